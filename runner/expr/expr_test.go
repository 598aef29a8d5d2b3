package expr

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"k8s.io/apimachinery/pkg/runtime"
)

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC) // a Monday

func testEnv(t testing.TB, limit uint64) *Env {
	t.Helper()
	env, err := NewEnv(limit)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func testVars(t testing.TB, data string) map[string]any {
	t.Helper()
	base, err := EventVars(&v1alpha1.CloudEvent{ID: "e", Source: "s", Type: "x", Subject: "c-42", Data: &runtime.RawExtension{Raw: []byte(data)}})
	if err != nil {
		t.Fatal(err)
	}
	return With(base, "c-42", t0, nil)
}

func TestCompileErrorsHavePositions(t *testing.T) {
	cases := []struct {
		src  string
		out  Output
		want string
	}{
		{`subject + 1`, AnyOutput, "1:9: found no matching overload for '_+_' applied to '(string, int)'"},
		{"lead.source == \"x\" &&\n  now > 3", BoolOutput, "2:7: found no matching overload for '_>_' applied to '(timestamp, int)'"},
		{`undefinedVar == 1`, BoolOutput, "1:1: undeclared reference to 'undefinedVar' (in container '')"},
		{`lead.source`, BoolOutput, ""}, // dyn may be bool at run time
		{`"text"`, BoolOutput, "1:1: expression must yield a bool, not string"},
		{`inBusinessHours(now, "UTC", ["Mon"], "09:00")`, BoolOutput, "1:16: found no matching overload for 'inBusinessHours' applied to '(timestamp, string, list(string), string)'"},
	}
	env := testEnv(t, 0)
	for _, tc := range cases {
		t.Run(tc.src, func(t *testing.T) {
			g := NewWithT(t)
			_, err := env.Compile(tc.src, tc.out)
			if tc.want == "" {
				g.Expect(err).NotTo(HaveOccurred())
				return
			}
			g.Expect(err).To(MatchError(tc.want))
		})
	}
}

func TestCostLimitStopsAPathologicalExpression(t *testing.T) {
	g := NewWithT(t)
	list := "[" + strings.TrimSuffix(strings.Repeat("1,", 50), ",") + "]"
	src := list + ".all(a, " + list + ".all(b, " + list + ".all(c, " + list + ".all(d, a + b + c + d > 0))))" // 6.25M iterations
	for _, limit := range []uint64{0, 10_000} {
		env := testEnv(t, limit)
		prg, err := env.Compile(src, BoolOutput)
		g.Expect(err).NotTo(HaveOccurred())
		_, err = prg.EvalBool(testVars(t, `{}`))
		g.Expect(err).To(MatchError(ContainSubstring("cost limit exceeded")))
		g.Expect(err).To(MatchError(HavePrefix(`evaluate "[1,1,1`)), "the error names the expression")
		g.Expect(errors.Is(err, ErrMissing)).To(BeFalse())
	}
}

func TestMissingFields(t *testing.T) {
	env := testEnv(t, 0)
	vars := testVars(t, `{"lead": {"source": "Website", "owner": null}}`)
	cases := []struct {
		src     string
		want    any // bool result, or "missing"
		message string
	}{
		{`lead.status == "Won"`, "missing", "no such key: status"},
		{`ticket.id == "t"`, "missing", "no such key: id"},
		{`has(lead.status)`, false, ""},
		{`has(ticket.id)`, false, ""},
		{`has(lead.owner)`, true, ""},
		{`lead.?status.orValue("New") == "New"`, true, ""},
		{`has(data.lead) && data.lead.source == "Website"`, true, ""},
		{`steps.size() == 0`, true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.src, func(t *testing.T) {
			g := NewWithT(t)
			prg, err := env.Compile(tc.src, BoolOutput)
			g.Expect(err).NotTo(HaveOccurred())
			got, err := prg.EvalBool(vars)
			if tc.want == "missing" {
				g.Expect(errors.Is(err, ErrMissing)).To(BeTrue(), "%v", err)
				g.Expect(err).To(MatchError(ContainSubstring(tc.message)))
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(Equal(tc.want))
		})
	}
}

func TestStructuredConditions(t *testing.T) {
	env := testEnv(t, 0)
	vars := testVars(t, `{"contact": {"tags": ["VIP", "b"], "email": "ann@example.com", "age": 41, "since": "2025-01-01T00:00:00Z", "nested": {"x": null}},
		"lead": {"source": "Website", "score": 0.2}, "message": {"sentiment": {"score": 0.12}}, "count": 3}`)
	cases := []struct {
		field, op, value string
		want             any // bool, or "missing"
		cel              string
	}{
		{"lead.source", "Equals", `"Website"`, true, `lead.source == "Website"`},
		{"lead.source", "NotEquals", `"Website"`, false, `lead.source != "Website"`},
		{"count", "Equals", `3`, true, `data.count == 3.0`},
		{"contact.tags", "Contains", `"VIP"`, true, ""},
		{"contact.tags", "NotContains", `"VIP"`, false, ""},
		{"contact.email", "Contains", `"@example"`, true, ""},
		{"lead.source", "In", `["Website", "Chat"]`, true, `lead.source in ["Website", "Chat"]`},
		{"lead.source", "NotIn", `["Website"]`, false, ""},
		{"lead.source", "Exists", ``, true, `has(lead.source) && lead.source != null`},
		{"lead.status", "Exists", ``, false, ""},
		{"contact.nested.x", "Exists", ``, false, ""},
		{"contact.missing.deep", "NotExists", ``, true, ""},
		{"contact.age", "GreaterThan", `40`, true, `contact.age > 40.0`},
		{"message.sentiment.score", "LessThan", `0.3`, true, `message.sentiment.score < 0.3`},
		{"contact.email", "Matches", `"^[a-z]+@"`, true, `string(contact.email).matches("^[a-z]+@")`},
		{"contact.since", "Before", `"2026-01-01T00:00:00Z"`, true, ""},
		{"contact.since", "After", `"2026-01-01T00:00:00Z"`, false, ""},
		{"now", "After", `"2026-01-01T00:00:00Z"`, true, ""},
		{"lead.status", "Equals", `"Won"`, "missing", ""},
	}
	for _, tc := range cases {
		t.Run(tc.field+" "+tc.op, func(t *testing.T) {
			g := NewWithT(t)
			src, err := ConditionCEL(tc.field, tc.op, []byte(tc.value))
			g.Expect(err).NotTo(HaveOccurred())
			if tc.cel != "" {
				g.Expect(src).To(Equal(tc.cel))
			}
			prg, err := env.Compile(src, BoolOutput)
			g.Expect(err).NotTo(HaveOccurred(), src)
			got, err := prg.EvalBool(vars)
			if tc.want == "missing" {
				g.Expect(errors.Is(err, ErrMissing)).To(BeTrue())
				return
			}
			g.Expect(err).NotTo(HaveOccurred(), src)
			g.Expect(got).To(Equal(tc.want), src)
		})
	}
}

func TestStructuredConditionValueErrors(t *testing.T) {
	cases := []struct{ field, op, value, want string }{
		{"lead.score", "LessThan", `"low"`, "value: LessThan needs a number"},
		{"lead.score", "GreaterThan", `[1]`, "value: GreaterThan needs a number"},
		{"lead.at", "After", `"tomorrow"`, `value: After needs an RFC 3339 time, got "tomorrow"`},
		{"lead.at", "Before", `5`, "value: Before needs an RFC 3339 time string"},
		{"lead.source", "Equals", ``, "value: Equals needs a value"},
		{"lead.source", "Equals", `{"a": 1}`, "value: Equals needs a string, number or bool"},
		{"lead.source", "NotExists", `"x"`, "value: NotExists takes no value"},
		{"lead.source", "In", `["a", {}]`, "value[1]: must be a string, number or bool"},
		{"lead.source", "Matches", `"a("`, "value: invalid regular expression: error parsing regexp: missing closing ): `a(`"},
		{"lead.source", "Like", `"x"`, `operator: unknown operator "Like" (want Equals, NotEquals, Contains, NotContains, In, NotIn, Exists, NotExists, GreaterThan, LessThan, Matches, Before or After)`},
		{"lead..source", "Equals", `"x"`, `field: "lead..source" is not a dotted path like lead.source`},
		{"lead.in", "Equals", `"x"`, `field: "lead.in": "in" is a reserved word in CEL; use an expression with ["in"]`},
		{"now.hour", "Equals", `1`, `field: "now.hour": now has no fields`},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			_, err := ConditionCEL(tc.field, tc.op, []byte(tc.value))
			NewWithT(t).Expect(err).To(MatchError(tc.want))
		})
	}
}

func TestBusinessHours(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	w, err := ParseWindow("America/New_York", []string{"Mon", "Tue", "Wed", "Thu", "Fri"}, "09:00", "17:00")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		at   time.Time
		open bool
		next time.Time
	}{
		{time.Date(2026, 3, 2, 9, 0, 0, 0, ny), true, time.Date(2026, 3, 2, 9, 0, 0, 0, ny)},
		{time.Date(2026, 3, 2, 8, 59, 0, 0, ny), false, time.Date(2026, 3, 2, 9, 0, 0, 0, ny)},
		{time.Date(2026, 3, 2, 17, 0, 0, 0, ny), false, time.Date(2026, 3, 3, 9, 0, 0, 0, ny)},
		{time.Date(2026, 3, 6, 18, 0, 0, 0, ny), false, time.Date(2026, 3, 9, 9, 0, 0, 0, ny)}, // Friday evening → Monday, across the DST change
		{time.Date(2026, 3, 7, 12, 0, 0, 0, time.UTC), false, time.Date(2026, 3, 9, 9, 0, 0, 0, ny)},
	}
	for _, tc := range cases {
		g := NewWithT(t)
		g.Expect(w.Contains(tc.at)).To(Equal(tc.open), "%s", tc.at)
		g.Expect(w.Next(tc.at).Equal(tc.next)).To(BeTrue(), "next after %s: %s", tc.at, w.Next(tc.at))
	}
	g := NewWithT(t)
	_, err = ParseWindow("UTC", []string{"Funday"}, "09:00", "17:00")
	g.Expect(err).To(MatchError(`unknown day "Funday" (want Mon, Tue, Wed, Thu, Fri, Sat or Sun)`))
	_, err = ParseWindow("UTC", nil, "17:00", "09:00")
	g.Expect(err).To(MatchError("to 09:00 must be later than from 17:00"))
	_, err = ParseWindow("UTC", nil, "9am", "17:00")
	g.Expect(err).To(MatchError(`from: time "9am" is not HH:MM`))
}

func TestTimeFunctions(t *testing.T) {
	env := testEnv(t, 0)
	vars := testVars(t, `{"contact": {"renewal": "2026-06-30"}}`)
	cases := []struct{ src, want string }{
		{`inBusinessHours(now, "America/New_York", ["Mon"], "09:00", "17:00")`, "false"}, // 05:00 in New York
		{`inBusinessHours(now, "Europe/Berlin", ["Mon"], "09:00", "17:00")`, "true"},     // 11:00 in Berlin
		{`nextBusinessHours(now, "America/New_York", ["Mon", "Tue"], "09:00", "17:00")`, "2026-03-02T14:00:00Z"},
		{`localTime(now, "Asia/Tokyo")`, "2026-03-02T19:00:00+09:00"},
		{`localDate(now + duration("15h"), "UTC")`, "2026-03-03"},
		{`weekday(now, "Pacific/Auckland")`, "Mon"},
		{`toTimestamp(contact.renewal, "Europe/Berlin")`, "2026-06-29T22:00:00Z"},
		{`now.getHours("America/New_York")`, "5"},
	}
	for _, tc := range cases {
		t.Run(tc.src, func(t *testing.T) {
			g := NewWithT(t)
			prg, err := env.Compile(tc.src, AnyOutput)
			g.Expect(err).NotTo(HaveOccurred())
			v, err := prg.Eval(vars)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(Stringify(v)).To(Equal(tc.want))
		})
	}
	g := NewWithT(t)
	prg, err := env.Compile(`inBusinessHours(now, "Nowhere/City", ["Mon"], "09:00", "17:00")`, BoolOutput)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = prg.EvalBool(vars)
	g.Expect(err).To(MatchError(ContainSubstring(`inBusinessHours: unknown time zone "Nowhere/City"`)))
}

func TestStringify(t *testing.T) {
	env := testEnv(t, 0)
	vars := testVars(t, `{"n": 5, "f": 0.25, "big": 12345678901, "list": [1, "a", true], "map": {"b": 1, "a": [2.5]}, "nil": null}`)
	cases := []struct{ src, want string }{
		{`data.n`, "5"},
		{`data.f`, "0.25"},
		{`data.big`, "12345678901"},
		{`data.n / 2.0`, "2.5"},
		{`7 / 2`, "3"},
		{`data.list`, `[1,"a",true]`},
		{`data.map`, `{"a":[2.5],"b":1}`},
		{`data.nil`, ""},
		{`now`, "2026-03-02T10:00:00Z"},
		{`now + duration("1.5s")`, "2026-03-02T10:00:01.5Z"},
		{`duration("90m")`, "1h30m0s"},
		{`[now]`, `["2026-03-02T10:00:00Z"]`},
		{`"<b>&"`, "<b>&"},
	}
	for _, tc := range cases {
		t.Run(tc.src, func(t *testing.T) {
			g := NewWithT(t)
			prg, err := env.Compile(tc.src, AnyOutput)
			g.Expect(err).NotTo(HaveOccurred())
			v, err := prg.Eval(vars)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(Stringify(v)).To(Equal(tc.want))
		})
	}
}

// TestNoSuchOverloadNamesTheTypes: CEL's bare "no such overload" gets the
// operands' paths, types and values; numbers of any kind go together.
func TestNoSuchOverloadNamesTheTypes(t *testing.T) {
	env := testEnv(t, 0)
	vars := testVars(t, `{"score": "0.1", "limit": 3, "vip": true, "tags": ["a"], "n": 2, "f": 0.5}`)
	cases := []struct{ src, want string }{
		{`data.score < 0.3`, `no such overload: data.score is a string ("0.1"), compared with a number (0.3); convert it, e.g. double(data.score)`},
		{`0.3 > data.score`, `no such overload: data.score is a string ("0.1"), compared with a number (0.3); convert it, e.g. double(data.score)`},
		{`data.score > data.limit`, `no such overload: data.score is a string ("0.1"), data.limit is a number (3); convert it, e.g. double(data.score)`},
		{`data.n > 1 && data.vip > 1`, `no such overload: data.vip is a bool (true), compared with a number (1)`},
		{`data.tags < 2`, `no such overload: _<_: data.tags is a list (["a"]), compared with a number (2)`},
	}
	for _, tc := range cases {
		t.Run(tc.src, func(t *testing.T) {
			g := NewWithT(t)
			prg, err := env.Compile(tc.src, BoolOutput)
			g.Expect(err).NotTo(HaveOccurred())
			_, err = prg.EvalBool(vars)
			g.Expect(err).To(MatchError(fmt.Sprintf("evaluate %q: %s", tc.src, tc.want)))
		})
	}
	// Mixed numbers compare: no error to explain.
	prg, err := env.Compile(`data.n > data.f`, BoolOutput)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	ok, err := prg.EvalBool(vars)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	NewWithT(t).Expect(ok).To(BeTrue())
}
