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
