//go:build !unit

package intake_test

import (
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/test/fixture"
)

var _ = Describe("a date trigger whose date plus offset is past the year 9999", func() {
	It("drops the pending run and skips, instead of refusing the event for every workflow", func() {
		ns := createNamespace("sentinel")
		// "The day after the contract ends": a positive offset, and a CRM
		// that writes 9999-12-31 for "never ends".
		winBack := installWorkflow(ns, fixture.MustSample(GinkgoT(), "renewal-reminder"), func(wf *v1alpha1.Workflow) {
			wf.Name = "win-back"
			wf.Spec.Trigger.DateField.Offset = "7d"
		})
		audit := installWorkflow(ns, fixture.Workflow("audit", fixture.SetEventTrigger("contact.updated"),
			fixture.EditSpec(func(s *v1alpha1.WorkflowSpec) { s.Subject = "contact.id" })))
		contact := func(date string) obj {
			return obj{"contact": obj{"id": "c-9", "email": "c9@example.com", "renewalDate": date}}
		}

		first := event("s-1", "contact.updated", "", contact(time.Now().AddDate(0, 2, 0).Format("2006-01-02")))
		first.SetTime(time.Now().Add(-time.Minute))
		r := postUntilMatched(ns, first, winBack.Name)
		Expect(r.First().Enrolled).To(ContainElement(HaveField("Workflow", winBack.Name)), r.Raw)
		Expect(scheduledRuns(ns, winBack.Name)).To(HaveLen(1))

		never := event("s-2", "contact.updated", "", contact("9999-12-31"))
		never.SetTime(time.Now())
		Eventually(func(g Gomega) {
			r = post(ns, never)
			g.Expect(r.Status).To(Equal(http.StatusAccepted), r.Raw)
			g.Expect(mentions(r.First(), audit.Name)).To(BeTrue(), r.Raw)
		}).Should(Succeed())
		Expect(r.First().Dropped).To(ConsistOf(HaveField("Workflow", winBack.Name)), r.Raw)
		Expect(scheduledRuns(ns, winBack.Name)).To(BeEmpty(), "a date no run can hold drops the pending one")

		again := event("s-3", "contact.updated", "", contact("9999-12-31"))
		again.SetTime(time.Now().Add(time.Second))
		r = post(ns, again)
		Expect(r.Status).To(Equal(http.StatusAccepted), r.Raw)
		Expect(r.First().Skipped).To(ContainElement(And(HaveField("Workflow", winBack.Name),
			HaveField("Reason", v1alpha1.SkipEvaluationError), HaveField("Message", ContainSubstring("past the year 9999")))), r.Raw)
		Expect(scheduledRuns(ns, winBack.Name)).To(BeEmpty())
	})
})
