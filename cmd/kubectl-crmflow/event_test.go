package main

import (
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

// TestParseEventReadsAsIntakeDoes: an event file is read by the receiver's
// codec, in JSON or YAML, with specversion optional; what intake refuses is
// refused here, with intake's message.
func TestParseEventReadsAsIntakeDoes(t *testing.T) {
	g := NewWithT(t)
	ev, err := parseEvent([]byte("id: e-1\nsource: crm\ntype: lead.created\nsubject: c-1\ncrmflowhops: \"2\"\ndata:\n  lead: {id: l-1}\n"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect([]string{ev.ID, ev.Source, ev.Type, ev.Subject, ev.Extensions["crmflowhops"]}).To(Equal([]string{"e-1", "crm", "lead.created", "c-1", "2"}))
	g.Expect(string(ev.Data.Raw)).To(Equal(`{"lead":{"id":"l-1"}}`))

	for _, c := range []struct{ file, msg string }{
		{`{"id":"e-1","source":"crm"}`, `missing required attribute "type"`},
		{`{"specversion":"0.3","id":"e-1","source":"crm","type":"t"}`, `unsupported specversion "0.3"`},
		{`{"id":"` + strings.Repeat("x", 257) + `","source":"crm","type":"t"}`, `attribute "id" is 257 characters; the limit is 256`},
		{`{"id":"e-1","source":"crm","type":"t","crmflowhops":"-1"}`, `crmflowhops`},
		{`[1]`, "not a CloudEvent object"},
	} {
		_, err := parseEvent([]byte(c.file))
		g.Expect(err).To(MatchError(ContainSubstring(c.msg)), c.file)
	}
}
