//go:build !unit

package intake_test

import (
	appsv1 "k8s.io/api/apps/v1"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/controllers/enrollment"
	"github.com/crmflow/crmflow/controllers/intake"
	"github.com/crmflow/crmflow/test/fixture"
)

type obj = map[string]any

var _ = Describe("the seed samples' triggers", func() {
	It("enrolls a website lead in lead-follow-up (CRM trigger) with a full run, and skips other leads with the reason", func() {
		ns := createNamespace("lead")
		wf := installWorkflow(ns, fixture.MustSample(GinkgoT(), "lead-follow-up"))
		lead := obj{"lead": obj{"id": "l-1", "source": "Website", "contactId": "c-1"}, "contact": obj{"email": "ann@example.com", "firstName": "Ann"}}
		r := postUntilMatched(ns, event("lead-1", "lead.created", "", lead), wf.Name)
		Expect(r.First().Enrolled).To(HaveLen(1), r.Raw)
		name := r.First().Enrolled[0].Run
		Expect(name).To(Equal(enrollment.EventRunName(wf.Name, "crm.example.com", "lead-1")))

		run := &v1alpha1.WorkflowRun{}
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, run)).To(Succeed())
		Expect(run.Spec.WorkflowName).To(Equal(wf.Name))
		Expect(run.Spec.Subject).To(Equal("c-1"))
		Expect(run.Spec.Workflow).To(BeNil(), "runs reference a revision instead of copying the spec")
		rev := &appsv1.ControllerRevision{}
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: run.Spec.WorkflowRevision}, rev)).To(Succeed())
		Expect(metav1.IsControlledBy(rev, wf)).To(BeTrue(), "the revision is owned by its workflow")
		Expect(string(rev.Data.Raw)).To(ContainSubstring(`"name":"hand-to-sales"`))
		Expect(run.Spec.WorkflowGeneration).To(BeNumerically(">=", 1))
		Expect(run.Spec.Event.ID).To(Equal("lead-1"))
		Expect(string(run.Spec.Event.Data.Raw)).To(ContainSubstring(`"source":"Website"`))
		Expect(run.Spec.ScheduledTime).To(BeNil())
		Expect(run.Spec.Cause).To(BeNil())
		Expect(run.Labels).To(HaveKeyWithValue(v1alpha1.LabelWorkflow, wf.Name))
		Expect(run.Labels).To(HaveKeyWithValue(v1alpha1.LabelSubjectHash, v1alpha1.SubjectHash("c-1")))
		Expect(run.Labels).To(HaveKeyWithValue(v1alpha1.LabelTrigger, "event"))
		owner := metav1.GetControllerOf(run)
		Expect(owner).NotTo(BeNil())
		Expect(owner.Kind).To(Equal("Workflow"))
		Expect(owner.Name).To(Equal(wf.Name))

		other := obj{"lead": obj{"id": "l-2", "source": "Ad", "contactId": "c-2"}}
		r = post(ns, event("lead-2", "lead.created", "", other))
		Expect(r.First().Skipped).To(ConsistOf(intake.Skip{Workflow: wf.Name, Reason: v1alpha1.SkipConditionsNotMet,
			Message: r.First().Skipped[0].Message}))
		Expect(r.First().Skipped[0].Message).To(ContainSubject("from-website"))
		Eventually(skipCount(ns, wf.Name, v1alpha1.SkipConditionsNotMet)).Should(And(
			HaveField("Count", BeEquivalentTo(1)), HaveField("LastMessage", ContainSubstring("lead-2"))))
		Eventually(func() *metav1.Time {
			w := &v1alpha1.Workflow{}
			Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: wf.Name}, w)).To(Succeed())
			return w.Status.LastTriggeredTime
		}).ShouldNot(BeNil())
		Expect(runsOf(ns, wf.Name)).To(HaveLen(1))
	})

	It("enrolls a VIP's conversation in vip-routing (conversation trigger), structured mode", func() {
		ns := createNamespace("vip")
		wf := installWorkflow(ns, fixture.MustSample(GinkgoT(), "vip-routing"))
		data := obj{"conversation": obj{"id": "cv-1", "contactId": "c-9", "channel": "chat"}, "contact": obj{"tags": []string{"VIP", "Gold"}}}
		e := event("conv-1", "conversation.started", "", data)
		Eventually(func() []intake.RunRef {
			r := postStructured(ns, e)
			Expect(r.Status).To(Equal(202), r.Raw)
			return r.First().Enrolled
		}).Should(HaveLen(1))
		Expect(runsOf(ns, wf.Name)).To(ConsistOf(HaveField("Spec.Subject", "c-9")))
		r := postStructured(ns, event("conv-2", "conversation.started", "", obj{"conversation": obj{"contactId": "c-10"}, "contact": obj{"tags": []string{"Gold"}}}))
		Expect(r.First().Skipped).To(ConsistOf(HaveField("Reason", v1alpha1.SkipConditionsNotMet)))
	})

	It("enrolls a negative message in negative-sentiment (contact/conversation trigger), batched mode", func() {
		ns := createNamespace("sentiment")
		wf := installWorkflow(ns, fixture.MustSample(GinkgoT(), "negative-sentiment"))
		sad := event("m-1", "message.received", "", obj{"message": obj{"id": "m-1", "contactId": "c-3", "sentiment": obj{"score": 0.1}}})
		happy := event("m-2", "message.received", "", obj{"message": obj{"id": "m-2", "contactId": "c-3", "sentiment": obj{"score": 0.9}}})
		Eventually(func() int {
			r := postBatch(ns, sad, happy)
			Expect(r.Status).To(Equal(202), r.Raw)
			Expect(r.Answer.Events).To(HaveLen(2))
			return len(r.First().Enrolled) + len(r.First().Skipped)
		}).Should(Equal(1))
		Eventually(func() []v1alpha1.WorkflowRun { return runsOf(ns, wf.Name) }).Should(ConsistOf(HaveField("Spec.Event.ID", "m-1")))
	})

	It("schedules renewal-reminder (time trigger) at the date minus 14 days, reschedules when the date moves and drops it when cleared", func() {
		ns := createNamespace("renewal")
		wf := installWorkflow(ns, fixture.MustSample(GinkgoT(), "renewal-reminder"))
		berlin, err := time.LoadLocation("Europe/Berlin")
		Expect(err).NotTo(HaveOccurred())
		date := time.Now().AddDate(0, 2, 0).In(berlin)
		day := date.Format("2006-01-02")
		contact := func(renewal any) obj {
			return obj{"contact": obj{"id": "c-7", "email": "c7@example.com", "renewalDate": renewal}}
		}

		first := event("u-1", "contact.updated", "", contact(day))
		first.SetTime(time.Now().Add(-time.Minute))
		r := postUntilMatched(ns, first, wf.Name)
		Expect(r.First().Enrolled).To(HaveLen(1), r.Raw)
		name := r.First().Enrolled[0].Run
		midnight, _ := time.ParseInLocation("2006-01-02", day, berlin)
		run := &v1alpha1.WorkflowRun{}
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, run)).To(Succeed())
		Expect(run.Spec.ScheduledTime.Time).To(BeTemporally("==", midnight.Add(-14*24*time.Hour)))
		Expect(run.Labels).To(HaveKeyWithValue(v1alpha1.LabelTrigger, "dateField"))

		moved := date.AddDate(0, 0, 10).Format("2006-01-02")
		second := event("u-2", "contact.updated", "", contact(moved))
		second.SetTime(time.Now())
		r = post(ns, second)
		Expect(r.First().Rescheduled).To(ConsistOf(intake.RunRef{Workflow: wf.Name, Run: name}), r.Raw)
		movedMidnight, _ := time.ParseInLocation("2006-01-02", moved, berlin)
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, run)).To(Succeed())
		Expect(run.Spec.ScheduledTime.Time).To(BeTemporally("==", movedMidnight.Add(-14*24*time.Hour)))
		Expect(run.Spec.Event.ID).To(Equal("u-2"))
		Expect(runsOf(ns, wf.Name)).To(HaveLen(1))

		// A redelivery of the older u-1 never moves the date back.
		r = post(ns, first)
		Expect(r.First().Skipped).To(ConsistOf(HaveField("Reason", v1alpha1.SkipStaleEvent)), r.Raw)
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, run)).To(Succeed())
		Expect(run.Spec.ScheduledTime.Time).To(BeTemporally("==", movedMidnight.Add(-14*24*time.Hour)))

		third := event("u-3", "contact.updated", "", contact(nil))
		third.SetTime(time.Now())
		r = post(ns, third)
		Expect(r.First().Dropped).To(ConsistOf(intake.RunRef{Workflow: wf.Name, Run: name}), r.Raw)
		Expect(scheduledRuns(ns, wf.Name)).To(BeEmpty(), "the dropped run is cancelled")
		dropped := &v1alpha1.WorkflowRun{}
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, dropped)).To(Succeed())
		Expect(dropped.Spec.Cancel).To(BeTrue())
		Expect(dropped.Spec.Event.ID).To(Equal("u-3"), "the dropped run keeps the event that dropped it")
		Expect(dropped.Annotations).To(HaveKeyWithValue(v1alpha1.AnnotationCancelReason,
			"date contact.renewalDate cleared by event u-3 from crm.example.com; the scheduled run is dropped"), "its result message will say why")

		// A late redelivery of u-2, which had moved the date, does not schedule it again.
		r = post(ns, second)
		Expect(r.First().Skipped).To(ConsistOf(HaveField("Reason", v1alpha1.SkipStaleEvent)), r.Raw)
		Expect(scheduledRuns(ns, wf.Name)).To(BeEmpty())

		// After a drop the next date enrolls at once.
		r = post(ns, event("u-4", "contact.updated", "", contact(day)))
		Expect(r.First().Enrolled).To(HaveLen(1), r.Raw)
		// A date already passed schedules nothing and drops the pending run.
		r = post(ns, event("u-5", "contact.updated", "", contact(time.Now().AddDate(0, 0, 3).Format("2006-01-02"))))
		Expect(r.First().Dropped).To(HaveLen(1), r.Raw)
		passedRun := &v1alpha1.WorkflowRun{}
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: r.First().Dropped[0].Run}, passedRun)).To(Succeed())
		Expect(passedRun.Annotations[v1alpha1.AnnotationCancelReason]).To(HavePrefix("date contact.renewalDate moved by event u-5 from crm.example.com to a start time already past ("))
		Expect(scheduledRuns(ns, wf.Name)).To(BeEmpty(), "the dropped run is cancelled")
		// With nothing pending, a passed date is a skip the Workflow's status explains.
		r = post(ns, event("u-6", "contact.updated", "", contact(time.Now().AddDate(0, 0, 2).Format("2006-01-02"))))
		Expect(r.First().Skipped).To(ConsistOf(HaveField("Reason", v1alpha1.SkipDatePassed)), r.Raw)
		Expect(scheduledRuns(ns, wf.Name)).To(BeEmpty(), "the dropped run is cancelled")
		Eventually(func(g Gomega) {
			got := &v1alpha1.Workflow{}
			g.Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: wf.Name}, got)).To(Succeed())
			g.Expect(got.Status.DateRuns).NotTo(BeNil())
			g.Expect(got.Status.DateRuns.Rescheduled).To(BeEquivalentTo(1))
			g.Expect(got.Status.DateRuns.Dropped).To(BeEquivalentTo(2))
		}).Should(Succeed(), "reschedules and drops are counted on the Workflow")
		Eventually(skipCount(ns, wf.Name, v1alpha1.SkipDatePassed)).Should(And(
			HaveField("Count", BeNumerically("==", 1)), HaveField("LastMessage", ContainSubstring("already past"))))
	})
})

// ContainSubject matches a message naming a condition.
func ContainSubject(name string) OmegaMatcher { return ContainSubstring(name) }
