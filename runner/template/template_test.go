package template

import (
	"encoding/json"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/crmflow/crmflow/runner/expr"
)

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func testEnv(t testing.TB) *expr.Env {
	t.Helper()
	env, err := expr.NewEnv(0)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func testVars() map[string]any {
	return expr.With(map[string]any{
		"event": map[string]any{"id": "e-1"},
		"data":  map[string]any{},
		"contact": map[string]any{"firstName": "Ann", "quote": "say \"hi\"\n\\ <ok>", "score": 7.0, "tags": []any{"a", "b"},
			"nested": map[string]any{"k": 1.5}},
		"lead": map[string]any{}, "ticket": map[string]any{}, "conversation": map[string]any{}, "message": map[string]any{}, "appointment": map[string]any{},
	}, "c-42", t0, nil)
}

func TestRender(t *testing.T) {
	cases := []struct{ src, want string }{
		{"plain text", "plain text"},
		{"", ""},
		{"Hi {{ contact.firstName }}!", "Hi Ann!"},
		{"{{contact.firstName}}{{ subject }}", "Annc-42"},
		{"score {{ contact.score }}, half {{ contact.score / 2.0 }}", "score 7, half 3.5"},
		{"at {{ now }}", "at 2026-03-02T10:00:00Z"},
		{"tags {{ contact.tags }}", `tags ["a","b"]`},
		{"map {{ {'x': {'y': 1}} }}", `map {"x":{"y":1}}`},
		{"brace {{ '}}' }} end", "brace }} end"},
		{"{{ has(contact.lastName) ? contact.lastName : 'friend' }}", "friend"},
		{"line1\n{{ contact.firstName }}\nline3", "line1\nAnn\nline3"},
	}
	env := testEnv(t)
	for _, tc := range cases {
		t.Run(tc.src, func(t *testing.T) {
			g := NewWithT(t)
			tmpl, err := Compile(env, tc.src)
			g.Expect(err).NotTo(HaveOccurred())
			got, err := tmpl.Render(testVars())
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(Equal(tc.want))
		})
	}
}

func TestRenderJSON(t *testing.T) {
	cases := []struct{ src, want string }{
		{`{"text": "{{ contact.quote }}"}`, `{"text": "say \"hi\"\n\\ <ok>"}`},
		{`{"score": {{ contact.score }}, "tags": {{ contact.tags }}, "n": {{ contact.nested }}}`, `{"score": 7, "tags": ["a","b"], "n": {"k":1.5}}`},
		{`{"name": {{ contact.firstName }}}`, `{"name": "Ann"}`},
		{`{"mixed": "{{ contact.firstName }} scored {{ contact.score }}", "escaped \" {{ subject }}": 1}`, `{"mixed": "Ann scored 7", "escaped \" c-42": 1}`},
		{`["{{ now }}", {{ now }}]`, `["2026-03-02T10:00:00Z", "2026-03-02T10:00:00Z"]`},
	}
	env := testEnv(t)
	for _, tc := range cases {
		t.Run(tc.src, func(t *testing.T) {
			g := NewWithT(t)
			tmpl, err := CompileJSON(env, tc.src)
			g.Expect(err).NotTo(HaveOccurred())
			got, err := tmpl.Render(testVars())
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(Equal(tc.want))
			g.Expect(json.Valid([]byte(got))).To(BeTrue())
		})
	}
}

func TestCompileErrors(t *testing.T) {
	cases := []struct {
		src  string
		json bool
		want string
	}{
		{"Hi {{ contact.firstName", false, "1:4: unterminated {{: missing }}"},
		{"Hi {{ }}", false, "1:4: empty {{ }}"},
		{"line one\n  and {{ now + 1 }}", false, "2:14: found no matching overload for '_+_' applied to '(timestamp, int)'"},
		{"{{ a }} and {{ b }}", false, "1:4: undeclared reference to 'a' (in container ''); 1:16: undeclared reference to 'b' (in container '')"},
		{`{"a": {{ subject }}`, true, "1:1: not a valid JSON document: unexpected end of JSON input"},
		{`{"a": "{{ subject }}" "b"}`, true, "1:1: not a valid JSON document: invalid character '\"' after object key:value pair"},
	}
	env := testEnv(t)
	for _, tc := range cases {
		t.Run(tc.src, func(t *testing.T) {
			compile := Compile
			if tc.json {
				compile = CompileJSON
			}
			_, err := compile(env, tc.src)
			NewWithT(t).Expect(err).To(MatchError(tc.want))
		})
	}
}

func TestValueKeepsTypes(t *testing.T) {
	g := NewWithT(t)
	env := testEnv(t)
	for src, want := range map[string]any{
		"{{ contact.score }}":       7.0,
		"{{ contact.tags }}":        []any{"a", "b"},
		"{{ now }}":                 "2026-03-02T10:00:00Z",
		"n={{ contact.score }}":     "n=7",
		"{{ contact.score > 5.0 }}": true,
		" {{ contact.firstName }} ": " Ann ",
	} {
		tmpl, err := Compile(env, src)
		g.Expect(err).NotTo(HaveOccurred())
		got, err := tmpl.Value(testVars())
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(got).To(Equal(want), src)
	}
}

func TestRenderFallbacks(t *testing.T) {
	env := testEnv(t)
	vars := testVars()
	vars["event"] = map[string]any{"id": "e-1", "time": nil} // an event sent without a time
	cases := []struct{ src, want string }{
		{`Hi {{ default(contact.firstName, "there") }}`, "Hi Ann"},
		{`Hi {{ default(contact.lastName, "there") }}`, "Hi there"},
		{`{{ contact.firstName }}{{ contact.?lastName.optMap(n, " " + n).orValue("") }}`, "Ann"},
		{`at {{ event.time }}`, "at "},
	}
	for _, tc := range cases {
		t.Run(tc.src, func(t *testing.T) {
			g := NewWithT(t)
			tpl, err := Compile(env, tc.src)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(tpl.Render(vars)).To(Equal(tc.want))
		})
	}
}
