//go:build !unit

package intake_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/test/fixture"
)

// Every skipped event reaches Options.SkipLog with what the run history
// keeps to answer "why didn't it fire for Ann?".
var _ = Describe("the skip log", func() {
	It("receives a skipped event with its workflow, reason, event id, source and subject", func() {
		ns := createNamespace("skiplog")
		wf := installWorkflow(ns, fixture.MustSample(GinkgoT(), "vip-routing"))
		regular := obj{"conversation": obj{"contactId": "c-ann"}, "contact": obj{"id": "c-ann", "tags": []string{"regular"}}}
		r := postUntilMatched(ns, event("not-vip-1", "conversation.started", "", regular), wf.Name)
		Expect(r.First().Skipped).To(ConsistOf(HaveField("Reason", v1alpha1.SkipConditionsNotMet)), r.Raw)
		Eventually(func() []any {
			var out []any
			for _, e := range skipLog.of(ns) {
				out = append(out, e)
			}
			return out
		}).Should(ContainElement(And(
			HaveField("Workflow", wf.Name), HaveField("Reason", v1alpha1.SkipConditionsNotMet),
			HaveField("EventID", "not-vip-1"), HaveField("EventSource", "crm.example.com"), HaveField("Subject", "c-ann"),
			HaveField("Message", ContainSubstring("contact-is-vip")))))
	})
})
