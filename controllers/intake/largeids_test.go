//go:build !unit

package intake_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/types"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/test/fixture"
)

var _ = Describe("numeric contact ids above 2^53", func() {
	// As float64s both ids are 9007199254740992: the second lead would be
	// skipped under Forbid as the same contact, and the first run would
	// work on the wrong one.
	It("are two contacts, each with its exact id in the run's subject and event", func() {
		ns := createNamespace("ids")
		wf := installWorkflow(ns, fixture.MustSample(GinkgoT(), "lead-follow-up")) // subject lead.contactId; AfterExit/Forbid
		lead := func(id string, contact int64) obj {
			return obj{"lead": obj{"id": id, "source": "Website", "contactId": contact}}
		}
		first := postUntilMatched(ns, event("lead-a", "lead.created", "", lead("l-a", 9007199254740993)), wf.Name)
		Expect(first.First().Enrolled).To(HaveLen(1), first.Raw)
		second := post(ns, event("lead-b", "lead.created", "", lead("l-b", 9007199254740992)))
		Expect(second.First().Enrolled).To(HaveLen(1), second.Raw)

		for ref, subject := range map[string]string{
			first.First().Enrolled[0].Run:  "9007199254740993",
			second.First().Enrolled[0].Run: "9007199254740992",
		} {
			run := &v1alpha1.WorkflowRun{}
			Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: ref}, run)).To(Succeed())
			Expect(run.Spec.Subject).To(Equal(subject))
			Expect(run.Labels).To(HaveKeyWithValue(v1alpha1.LabelSubjectHash, v1alpha1.SubjectHash(subject)))
			Expect(string(run.Spec.Event.Data.Raw)).To(ContainSubstring(`"contactId":` + subject))
		}
	})
})
