//go:build !unit

package intake_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/test/fixture"
)

var _ = Describe("correlation to waiting runs", func() {
	It("delivers a reply to the lead follow-up waiting at await-reply, once, and an exit-goal event too", func() {
		ns := createNamespace("reply")
		wf := installWorkflow(ns, fixture.MustSample(GinkgoT(), "lead-follow-up"))
		lead := obj{"lead": obj{"id": "l-1", "source": "Website", "contactId": "c-42"}}
		name := postUntilMatched(ns, event("lead-42", "lead.created", "", lead), wf.Name).First().Enrolled[0].Run

		// Put the run where the run controller would: waiting at await-reply.
		run := &v1alpha1.WorkflowRun{}
		key := types.NamespacedName{Namespace: ns, Name: name}
		Expect(k8sClient.Get(ctx, key, run)).To(Succeed())
		now := metav1.Now()
		run.Status.Phase = v1alpha1.RunWaiting
		run.Status.CurrentStep = "await-reply"
		run.Status.Steps = []v1alpha1.StepStatus{
			{Name: "settle", Phase: v1alpha1.StepSucceeded, StartTime: &now, FinishTime: &now},
			{Name: "welcome", Phase: v1alpha1.StepSucceeded, StartTime: &now, FinishTime: &now},
			{Name: "await-reply", Phase: v1alpha1.StepWaiting, StartTime: &now},
		}
		Expect(k8sClient.Status().Update(ctx, run)).To(Succeed())

		reply := event("msg-1", "message.received", "c-42", obj{"message": obj{"id": "msg-1", "contactId": "c-42", "text": "yes please"}})
		// Posted at once: the cache may not show the wait yet, so intake asks the API server.
		delivered := post(ns, reply).First()
		Expect(delivered.Delivered).To(ConsistOf(name))
		Expect(delivered.Note).To(BeEmpty(), "the reply did something")
		// A duplicate delivery of the reply is not appended twice.
		Expect(post(ns, reply).Status).To(Equal(202))
		Expect(k8sClient.Get(ctx, key, run)).To(Succeed())
		Expect(run.Spec.Inbox).To(ConsistOf(HaveField("ID", "msg-1")))
		Expect(run.Status.Steps).To(HaveLen(3), "delivery must not erase the run controller's status")

		// A reply for another contact, and an event type nobody waits for, go nowhere.
		Expect(post(ns, event("msg-2", "message.received", "c-43", obj{"message": obj{"contactId": "c-43"}})).First().Delivered).To(BeEmpty())
		nothing := post(ns, event("t-1", "ticket.created", "c-42", obj{})).First()
		Expect(nothing.Delivered).To(BeEmpty())
		// ... and the answer says so, for a misspelt type or namespace.
		Expect(nothing.Note).To(Equal("no workflow in namespace " + ns + ` starts on type "ticket.created" from source "crm.example.com", and no run of the event's subject was waiting for it`))

		// The exit goal's type reaches the run whatever step it is at.
		won := event("won-1", "lead.status.changed", "c-42", obj{"lead": obj{"id": "l-1", "status": "Won", "contactId": "c-42"}})
		Expect(post(ns, won).First().Delivered).To(ConsistOf(name))
		Expect(k8sClient.Get(ctx, key, run)).To(Succeed())
		Expect(run.Spec.Inbox).To(HaveExactElements(HaveField("ID", "msg-1"), HaveField("ID", "won-1")))

		// A finished run receives nothing.
		run.Status.Phase = v1alpha1.RunSucceeded
		Expect(k8sClient.Status().Update(ctx, run)).To(Succeed())
		Eventually(func() []string {
			return post(ns, event("won-2", "lead.status.changed", "c-42", obj{"lead": obj{"status": "Won"}})).First().Delivered
		}).Should(BeEmpty())
	})
})
