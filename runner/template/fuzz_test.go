package template

import (
	"encoding/json"
	"testing"
)

// FuzzRenderTemplate: no input may panic the compiler or the renderer, and
// a compiled JSON template that renders yields valid JSON.
func FuzzRenderTemplate(f *testing.F) {
	for _, s := range []string{
		"", "plain", "Hi {{ contact.firstName }}", "{{", "}}", "{{ }}", "{{ {'a': {'b': 1}} }}", "{{ '}}' }}",
		`{"a": "{{ contact.quote }}", "b": {{ contact.tags }}}`, "{{ now + duration('1h') }}", "{{ 1/0 }}",
		"{{ \"unterminated }}", "{{ contact.missing }}", "{{ [1,2,3].map(x, x * 2) }}", "\\{{ x }}", "{{{{}}}}",
	} {
		f.Add(s)
	}
	env := testEnv(f)
	vars := testVars()
	f.Fuzz(func(t *testing.T, src string) {
		if tmpl, err := Compile(env, src); err == nil {
			_, _ = tmpl.Render(vars)
			_, _ = tmpl.Value(vars)
		}
		if tmpl, err := CompileJSON(env, src); err == nil {
			out, err := tmpl.Render(vars)
			if err == nil && out != "" && !json.Valid([]byte(out)) {
				t.Fatalf("JSON template %q rendered invalid JSON %q", src, out)
			}
		}
	})
}
