//go:build !unit

package e2e

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/test/fixture"
)

// remindWorkflow is a small event workflow: wait, then notify the sales hook.
func remindWorkflow(ns, name string, opts ...fixture.WorkflowOption) *v1alpha1.Workflow {
	opts = append([]fixture.WorkflowOption{
		fixture.SetName(name),
		fixture.SetSteps(fixture.WaitStep("pause", "1h"), fixture.NotifyStep("remind", "remind {{ subject }}")),
		func(wf *v1alpha1.Workflow) {
			wf.Spec.Conditions = nil
			wf.Spec.Connections.Notify.WebhookURLSecretRef.Key = "sales-url"
		},
	}, opts...)
	return sample("vip-routing", ns, opts...)
}

// setState patches a workflow's spec.state.
func setState(wf *v1alpha1.Workflow, s v1alpha1.WorkflowState) {
	GinkgoHelper()
	patch := client.RawPatch("application/merge-patch+json", []byte(fmt.Sprintf(`{"spec":{"state":%q}}`, s)))
	Expect(k8sClient.Patch(suiteCtx, wf.DeepCopy(), patch)).To(Succeed())
}

var _ = Describe("Run lifecycle", func() {
	var (
		ns  string
		clk *clocktesting.FakeClock
	)
	BeforeEach(func() {
		ns = newNamespace()
		clk = newFakeClock()
		startManager(managerOptions{namespace: ns, clock: clk, poll: fakeClockPoll})
	})
	event := func(id, subject string) v1alpha1.CloudEvent {
		return cloudEvent("conversation.started", id, subject, clk.Now(), map[string]any{"conversation": map[string]any{"contactId": subject}})
	}

	It("ends the runs of a deleted Workflow, and one created again under its name enrolls anew", func() {
		forbid := func(wf *v1alpha1.Workflow) {
			wf.Spec.Enrollment = v1alpha1.EnrollmentPolicy{Reenroll: v1alpha1.ReenrollAfterExit, Concurrency: v1alpha1.ConcurrencyForbid}
		}
		first := createWorkflow(remindWorkflow(ns, "remind", forbid))
		old := enroll(first, event("e1", "c-1"), "c-1")
		Eventually(phaseOf(old)).Should(Equal(v1alpha1.RunWaiting))

		// envtest runs no garbage collector, like the local start: the old
		// run stays until the manager ends it.
		Expect(k8sClient.Delete(suiteCtx, first)).To(Succeed())
		second := createWorkflow(remindWorkflow(ns, "remind", forbid))
		Expect(second.UID).NotTo(Equal(first.UID))
		fresh := enroll(second, event("e2", "c-1"), "c-1")
		Eventually(phaseOf(fresh)).Should(Equal(v1alpha1.RunWaiting), "the deleted workflow's run is not this one's active run")

		clk.Step(2 * time.Hour)
		Eventually(func(g Gomega) {
			got := getRun(old)(g)
			g.Expect(got.Status.Phase).To(Equal(v1alpha1.RunCancelled))
			g.Expect(got.Status.Result).To(Equal(v1alpha1.ReasonWorkflowDeleted))
			g.Expect(got.Status.Message).To(ContainSubstring("deleted and created again"))
			g.Expect(stepOf(got, "pause").Phase).To(Equal(v1alpha1.StepFailed))
		}).Should(Succeed())
		Eventually(phaseOf(fresh)).Should(Equal(v1alpha1.RunSucceeded))
		Consistently(func() []hit { return target.on("/notify/" + ns + "/sales") }, "1s", "100ms").Should(HaveLen(1),
			"only the new workflow's run reminds")
	})

	It("holds runs of a paused workflow at the step boundary and continues on resume", func() {
		wf := createWorkflow(remindWorkflow(ns, "remind"))
		run := enroll(wf, event("e1", "c-1"), "c-1")
		Eventually(phaseOf(run)).Should(Equal(v1alpha1.RunWaiting))

		setState(wf, v1alpha1.WorkflowPaused)
		clk.Step(2 * time.Hour)
		Eventually(func(g Gomega) {
			got := getRun(run)(g)
			g.Expect(got.Status.WaitingFor).NotTo(BeNil())
			g.Expect(got.Status.WaitingFor.Reason).To(Equal(v1alpha1.WaitPaused))
			g.Expect(stepOf(got, "pause").Phase).To(Equal(v1alpha1.StepSucceeded))
		}).Should(Succeed())
		Consistently(func() []hit { return target.on("/notify/" + ns) }, "1s", "100ms").Should(BeEmpty())

		setState(wf, v1alpha1.WorkflowActive)
		Eventually(func(g Gomega) {
			got := getRun(run)(g)
			g.Expect(got.Status.Phase).To(Equal(v1alpha1.RunSucceeded))
			g.Expect(stepOf(got, "remind").Phase).To(Equal(v1alpha1.StepSucceeded))
		}).Should(Succeed())
		Expect(target.on("/notify/" + ns + "/sales")).To(HaveLen(1))
	})

	It("cancels a waiting run through spec.cancel", func() {
		wf := createWorkflow(remindWorkflow(ns, "remind"))
		run := enroll(wf, event("e1", "c-1"), "c-1")
		Eventually(phaseOf(run)).Should(Equal(v1alpha1.RunWaiting))
		Expect(k8sClient.Patch(suiteCtx, run.DeepCopy(), client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"cancel":true}}`)))).To(Succeed())
		Eventually(func(g Gomega) {
			got := getRun(run)(g)
			g.Expect(got.Status.Phase).To(Equal(v1alpha1.RunCancelled))
			c := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.RunSucceededCondition)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(v1alpha1.ReasonCancelled.String()))
		}).Should(Succeed())
		clk.Step(2 * time.Hour)
		Consistently(func() []hit { return target.on("/notify/" + ns) }, "1s", "100ms").Should(BeEmpty())
	})

	It("runs a dry run of a Draft workflow without sending anything", func() {
		wf := createWorkflow(remindWorkflow(ns, "draft", fixture.SetState(v1alpha1.WorkflowDraft)))
		run := enrollObject(wf, event("e-dry", "c-1"), "c-1")
		run.Spec.DryRun = true
		Expect(k8sClient.Create(suiteCtx, run)).To(Succeed())
		Eventually(func(g Gomega) {
			got := getRun(run)(g)
			g.Expect(got.Status.Phase).To(Equal(v1alpha1.RunSucceeded))
			g.Expect(stepOf(got, "pause").Message).To(ContainSubstring("would wait"))
		}).Should(Succeed())
		Expect(target.on("/notify/" + ns)).To(BeEmpty())
	})

	It("removes a finished run from etcd within a minute after ttlAfterFinished", func() {
		wf := createWorkflow(remindWorkflow(ns, "ttl", fixture.SetHistory(10, "2h"), fixture.SetSteps(fixture.NotifyStep("remind", "now"))))
		run := enroll(wf, event("e1", "c-1"), "c-1")
		Eventually(phaseOf(run)).Should(Equal(v1alpha1.RunSucceeded))
		done := getRun(run)(Default)
		Expect(done.Status.RemoveAfter).To(Equal(v1alpha1.RemoveAfterValue(done.Status.CompletionTime.Add(2 * time.Hour))))
		clk.Step(time.Hour)
		Consistently(phaseOf(run), "1s", "100ms").Should(Equal(v1alpha1.RunSucceeded))
		clk.Step(time.Hour + time.Minute) // removed with its minute, by one collection delete
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(run), &v1alpha1.WorkflowRun{}))
		}).Should(BeTrue())
	})

	It("keeps only the newest history.limit finished runs and counts every run that finished", func() {
		wf := createWorkflow(remindWorkflow(ns, "hist", fixture.SetHistory(2, "168h"), fixture.SetSteps(fixture.NotifyStep("remind", "now"))))
		var runs []*v1alpha1.WorkflowRun
		for i := range 4 {
			run := enroll(wf, event(fmt.Sprintf("e%d", i), fmt.Sprintf("c-%d", i)), fmt.Sprintf("c-%d", i))
			Eventually(phaseOf(run)).Should(Equal(v1alpha1.RunSucceeded))
			runs = append(runs, run)
			clk.Step(time.Minute) // completion times one minute apart
		}
		Eventually(func(g Gomega) {
			list := &v1alpha1.WorkflowRunList{}
			g.Expect(k8sClient.List(suiteCtx, list, client.InNamespace(ns))).To(Succeed())
			var names []string
			for _, r := range list.Items {
				if r.DeletionTimestamp.IsZero() {
					names = append(names, r.Name)
				}
			}
			g.Expect(names).To(ConsistOf(runs[2].Name, runs[3].Name))
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			got := &v1alpha1.Workflow{}
			g.Expect(k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(wf), got)).To(Succeed())
			g.Expect(got.Status.Runs).To(Equal(v1alpha1.RunCounts{Succeeded: 4}), "counts are totals since creation, not what history keeps")
			g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
			g.Expect(meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.WorkflowReady)).To(BeTrue())
		}).Should(Succeed())
	})

	It("reports a compile error verbatim in the Ready condition", func() {
		wf := remindWorkflow(ns, "broken", fixture.SetSteps(fixture.NotifyStep("remind", "{{ contact.( }}")))
		created := createWorkflow(wf)
		Eventually(func(g Gomega) {
			got := &v1alpha1.Workflow{}
			g.Expect(k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(created), got)).To(Succeed())
			c := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.WorkflowReady)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(v1alpha1.ReasonCompileFailed.String()))
			g.Expect(c.Message).To(ContainSubstring("spec.steps[0].notify.message"))
			g.Expect(meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.WorkflowStalled)).To(BeTrue())
			g.Expect(got.Status.ObservedGeneration).To(BeZero(), "an invalid spec is never observed")
		}).Should(Succeed())
	})
})
