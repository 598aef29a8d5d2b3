package expr

import (
	"testing"

	. "github.com/onsi/gomega"
)

func TestFallbacksForMissingFields(t *testing.T) {
	env := testEnv(t, 0)
	vars := testVars(t, `{"contact":{"firstName":"Ann","middleName":"","nickname":null,"score":0}}`)
	cases := []struct{ src, want string }{
		{`default(contact.firstName, "there")`, "Ann"},
		{`default(contact.lastName, "there")`, "there"}, // missing key
		{`default(contact.middleName, "-")`, "-"},       // empty string
		{`default(contact.nickname, "-")`, "-"},         // null
		{`default(contact.score, 5)`, "0"},              // zero is a value
		{`default(data.deep.er.still, "none")`, "none"}, // missing all the way down
		{`contact.?lastName.orValue("")`, ""},           // CEL optionals
		{`contact.?firstName.orValue("x")`, "Ann"},
		{`contact.?lastName.optMap(n, " " + n).orValue("")`, ""},
		{`event.time`, ""}, // no time in the event: null, not a missing key
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

func TestDefaultDoesNotHideOtherErrors(t *testing.T) {
	g := NewWithT(t)
	env := testEnv(t, 0)
	_, err := env.Compile(`default(contact.firstName)`, AnyOutput)
	g.Expect(err).To(MatchError(ContainSubstring("default")), "one argument is a compile error")
	p, err := env.Compile(`default(contact.firstName, "x") + 1`, AnyOutput)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = p.Eval(testVars(t, `{"contact":{"firstName":"Ann"}}`))
	g.Expect(err).To(MatchError(ContainSubstring("no such overload")))
}

func TestExplainShowsTheValuesThatDecided(t *testing.T) {
	env := testEnv(t, 0)
	cases := []struct{ src, data, want string }{
		{`contact.country == "US"`, `{"contact":{"country":"DE"}}`, `contact.country = "DE"`},
		{`lead.source == "Website" && lead.score > 3`, `{"lead":{"source":"Phone"}}`, `lead.score is missing, lead.source = "Phone"`},
		{`"VIP" in contact.tags`, `{"contact":{"tags":["a","b"]}}`, `contact.tags = ["a","b"]`},
		{`has(contact.email)`, `{"contact":{}}`, ``},
		{`subject == "c-1"`, `{}`, `subject = "c-42"`},
		{`data.score < 0.3`, `{"score":0.5}`, `data.score = 0.5`},
	}
	for _, tc := range cases {
		t.Run(tc.src, func(t *testing.T) {
			g := NewWithT(t)
			p, err := env.Compile(tc.src, BoolOutput)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(p.Explain(testVars(t, tc.data))).To(Equal(tc.want))
		})
	}
}
