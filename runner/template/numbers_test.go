package template

import (
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/runner/expr"
)

// bigIDVars are the variables of an event whose contact ids are above 2^53,
// where a float64 would round 9007199254740993 to 9007199254740992 and
// 123456789012345678 to 123456789012345680.
func bigIDVars(t *testing.T) map[string]any {
	t.Helper()
	base, err := expr.EventVars(&v1alpha1.CloudEvent{ID: "e-1", Source: "crm/test", Type: "contact.updated",
		Data: &runtime.RawExtension{Raw: []byte(`{"contact":{"id":9007199254740993,"hs":123456789012345678,"score":7}}`)}})
	if err != nil {
		t.Fatal(err)
	}
	return expr.With(base, "c-42", t0, nil)
}

func TestLargeIntegersRenderExactly(t *testing.T) {
	cases := []struct {
		name, src, want string
		json            bool
	}{
		{name: "text", src: "contact {{ contact.id }} / {{ contact.hs }}",
			want: "contact 9007199254740993 / 123456789012345678"},
		{name: "URL", src: "https://crm.example.com/v3/objects/contacts/{{ contact.id }}?hs={{ contact.hs }}",
			want: "https://crm.example.com/v3/objects/contacts/9007199254740993?hs=123456789012345678"},
		{name: "whole object as text", src: "{{ contact }}",
			want: `{"hs":123456789012345678,"id":9007199254740993,"score":7}`},
		{name: "JSON values", json: true, src: `{"id": {{ contact.id }}, "ids": [{{ contact.hs }}], "contact": {{ contact }}}`,
			want: `{"id": 9007199254740993, "ids": [123456789012345678], "contact": {"hs":123456789012345678,"id":9007199254740993,"score":7}}`},
		{name: "JSON strings", json: true, src: `{"id": "{{ contact.id }}", "text": "hs {{ contact.hs }}"}`,
			want: `{"id": "9007199254740993", "text": "hs 123456789012345678"}`},
		{name: "an ordinary score is still a double", src: "{{ contact.score + 1.0 }}", want: "8"},
	}
	env := testEnv(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			compile := Compile
			if tc.json {
				compile = CompileJSON
			}
			tmpl, err := compile(env, tc.src)
			g.Expect(err).NotTo(HaveOccurred())
			got, err := tmpl.Render(bigIDVars(t))
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(Equal(tc.want))
		})
	}
}

func TestValueKeepsLargeIntegersExact(t *testing.T) {
	cases := []struct {
		src      string
		want     any
		wantJSON string
	}{
		{"{{ contact.id }}", int64(9007199254740993), "9007199254740993"},
		{"{{ contact.hs }}", int64(123456789012345678), "123456789012345678"},
		{"{{ [contact.id] }}", []any{int64(9007199254740993)}, "[9007199254740993]"},
	}
	env := testEnv(t)
	for _, tc := range cases {
		t.Run(tc.src, func(t *testing.T) {
			g := NewWithT(t)
			tmpl, err := Compile(env, tc.src)
			g.Expect(err).NotTo(HaveOccurred())
			v, err := tmpl.Value(bigIDVars(t))
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(v).To(Equal(tc.want))
			raw, err := MarshalJSON(v)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(string(raw)).To(Equal(tc.wantJSON))
		})
	}
}
