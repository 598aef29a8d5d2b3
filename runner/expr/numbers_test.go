package expr

import (
	"testing"

	. "github.com/onsi/gomega"
)

// bigIDs is event data with CRM ids above 2^53, which a float64 rounds
// (9007199254740993 to 9007199254740992), beside an ordinary score.
const bigIDs = `{"contact":{"id":9007199254740993,"hs":123456789012345678,"neg":-9007199254740993,` +
	`"u":18446744073709551615,"score":7,"ratio":0.25}}`

func TestLargeIntegersInEventData(t *testing.T) {
	env := testEnv(t, 0)
	vars := testVars(t, bigIDs)
	cases := []struct{ src, want string }{
		{`contact.id`, "9007199254740993"},
		{`contact.hs`, "123456789012345678"},
		{`contact.neg`, "-9007199254740993"},
		{`contact.u`, "18446744073709551615"},
		{`string(contact.id)`, "9007199254740993"},
		{`contact.id == 9007199254740993`, "true"},
		{`contact.id != 9007199254740992`, "true"},
		{`contact.id > 9007199254740992`, "true"},
		{`contact.id > 1.0`, "true"}, // int against double
		{`contact.hs == 123456789012345678`, "true"},
		{`contact.id + 1`, "9007199254740994"}, // int arithmetic
		{`contact.u == 18446744073709551615u`, "true"},
		{`type(contact.id) == int && type(contact.u) == uint`, "true"},
		{`contact.id in [1, 9007199254740993]`, "true"},
		{`{"id": contact.id}`, `{"id":9007199254740993}`},
		// Ordinary numbers are doubles, as before.
		{`type(contact.score) == double`, "true"},
		{`contact.score + 1.0`, "8"},
		{`contact.score > 5`, "true"},
		{`contact.ratio * 2.0`, "0.5"},
	}
	for _, tc := range cases {
		t.Run(tc.src, func(t *testing.T) {
			g := NewWithT(t)
			p, err := env.Compile(tc.src, AnyOutput)
			g.Expect(err).NotTo(HaveOccurred())
			v, err := p.Eval(vars)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(Stringify(v)).To(Equal(tc.want))
		})
	}
}

func TestExplainShowsALargeIntegerExactly(t *testing.T) {
	g := NewWithT(t)
	p, err := testEnv(t, 0).Compile(`contact.id == 9007199254740992`, BoolOutput)
	g.Expect(err).NotTo(HaveOccurred())
	vars := testVars(t, bigIDs)
	ok, err := p.EvalBool(vars)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ok).To(BeFalse())
	g.Expect(p.Explain(vars)).To(Equal("contact.id = 9007199254740993"))
}

// A structured condition's large whole values are exact integer literals
// too: CEL compares an int with a double as doubles, so the literal
// 9007199254740992.0 would equal the contact 9007199254740993.
func TestStructuredConditionsOnLargeIDs(t *testing.T) {
	env := testEnv(t, 0)
	vars := testVars(t, bigIDs)
	cases := []struct {
		field, op, value string
		want             bool
		cel              string
	}{
		{"contact.id", "Equals", `9007199254740993`, true, `contact.id == 9007199254740993`},
		{"contact.id", "Equals", `9007199254740992`, false, `contact.id == 9007199254740992`},
		{"contact.id", "NotEquals", `9007199254740994`, true, `contact.id != 9007199254740994`},
		{"contact.id", "In", `[9007199254740992, 9007199254740994]`, false, `contact.id in [9007199254740992, 9007199254740994]`},
		{"contact.id", "GreaterThan", `9007199254740992`, true, `contact.id > 9007199254740992`},
		{"contact.neg", "LessThan", `-9007199254740992`, true, `contact.neg < -9007199254740992`},
		{"contact.hs", "Contains", `123456789012345678`, true, ""},
		{"contact.u", "Equals", `18446744073709551615`, true, `contact.u == 18446744073709551615u`},
		{"contact.id", "GreaterThan", `1e16`, false, `contact.id > 10000000000000000`},
		{"contact.score", "GreaterThan", `5`, true, `contact.score > 5.0`},
		{"contact.ratio", "LessThan", `1e300`, true, `contact.ratio < 1e+300`},
	}
	for _, tc := range cases {
		t.Run(tc.field+" "+tc.op+" "+tc.value, func(t *testing.T) {
			g := NewWithT(t)
			src, err := ConditionCEL(tc.field, tc.op, []byte(tc.value))
			g.Expect(err).NotTo(HaveOccurred())
			if tc.cel != "" {
				g.Expect(src).To(Equal(tc.cel))
			}
			prg, err := env.Compile(src, BoolOutput)
			g.Expect(err).NotTo(HaveOccurred(), src)
			got, err := prg.EvalBool(vars)
			g.Expect(err).NotTo(HaveOccurred(), src)
			g.Expect(got).To(Equal(tc.want), src)
		})
	}
}
