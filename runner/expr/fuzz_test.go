package expr

import (
	"errors"
	"strings"
	"testing"
)

// FuzzCompileCondition: no structured condition may panic the translation,
// the compiler or the evaluator; a condition on an entity field that
// translates without a FieldError must compile.
func FuzzCompileCondition(f *testing.F) {
	for _, c := range [][3]string{
		{"lead.source", "Equals", `"Website"`}, {"contact.tags", "Contains", `"VIP"`}, {"x", "In", `[1, "a", true]`},
		{"message.sentiment.score", "LessThan", `0.3`}, {"lead.at", "Before", `"2026-01-01T00:00:00Z"`},
		{"a.b.c", "Exists", ``}, {"a", "NotExists", `null`}, {"a", "Matches", `"[a-z"`}, {"now", "After", `"2026-01-01T00:00:00Z"`},
		{"lead.in", "Equals", `"x"`}, {"subject", "Equals", `1e400`}, {"", "", ""}, {"a", "Equals", `"\u2028\"\\"`},
		{"contact.x", "GreaterThan", `-0`}, {"data", "NotIn", `[]`}, {"steps.a.b", "Contains", `"\x00"`},
	} {
		f.Add(c[0], c[1], c[2])
	}
	env := testEnv(f, 10_000)
	vars := testVars(f, `{"lead": {"source": "Website", "at": "2025-01-01T00:00:00Z"}, "contact": {"tags": ["VIP"], "x": 3}, "x": 1, "a": {"b": {"c": null}}}`)
	f.Fuzz(func(t *testing.T, field, operator, value string) {
		src, err := ConditionCEL(field, operator, []byte(value))
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("ConditionCEL(%q, %q, %q) returned %T, want *FieldError", field, operator, value, err)
			}
			return
		}
		prg, err := env.Compile(src, BoolOutput)
		if err != nil {
			root, _, _ := strings.Cut(field, ".")
			for _, n := range EntityNames {
				if root == n {
					t.Fatalf("condition %q %s %q translated to %q, which does not compile: %v", field, operator, value, src, err)
				}
			}
			return
		}
		_, _ = prg.EvalBool(vars)
	})
}
