//go:build !unit

package e2e

import (
	"fmt"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/test/fixture"
)

// The enrollment policy holds across receivers: intake only creates runs,
// and the run controller, the one writer of run status, admits them.
var _ = Describe("Enrollment admission by the run controller", func() {
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
	runsOf := func(g Gomega) []v1alpha1.WorkflowRun {
		list := &v1alpha1.WorkflowRunList{}
		g.Expect(k8sClient.List(suiteCtx, list, client.InNamespace(ns))).To(Succeed())
		return list.Items
	}

	It("admits exactly one of 30 runs created at once for one subject under Forbid, and counts the others", func() {
		wf := createWorkflow(remindWorkflow(ns, "burst", func(w *v1alpha1.Workflow) { // waits an hour
			w.Spec.Enrollment = v1alpha1.EnrollmentPolicy{} // the defaults: AfterExit, Forbid
		}))
		var wg sync.WaitGroup
		for i := range 30 {
			wg.Add(1)
			go func() {
				defer GinkgoRecover()
				defer wg.Done()
				enroll(wf, event(fmt.Sprintf("b%d", i), "c-burst"), "c-burst")
			}()
		}
		wg.Wait()
		Eventually(func(g Gomega) {
			waiting, refused := 0, 0
			for _, r := range runsOf(g) {
				switch {
				case r.Status.Phase == v1alpha1.RunWaiting:
					waiting++
				case r.Status.Phase == v1alpha1.RunCancelled && r.Status.Result == v1alpha1.ReasonNotAdmitted:
					g.Expect(r.Status.Message).To(HavePrefix(v1alpha1.SkipActiveRun.String() + ": "))
					g.Expect(r.Status.Steps).To(BeEmpty(), "a refused run performs nothing")
					refused++
				}
			}
			g.Expect(waiting).To(Equal(1))
			g.Expect(refused).To(Equal(29))
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			got := &v1alpha1.Workflow{}
			g.Expect(k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(wf), got)).To(Succeed())
			g.Expect(got.Status.Runs.Active).To(BeEquivalentTo(1))
			g.Expect(got.Status.SkippedEvents).To(ContainElement(And(
				HaveField("Reason", v1alpha1.SkipActiveRun), HaveField("Count", BeEquivalentTo(29)))))
		}).Should(Succeed())
	})

	It("cancels the active run when a new one is admitted under Replace", func() {
		wf := createWorkflow(remindWorkflow(ns, "replace", func(w *v1alpha1.Workflow) {
			w.Spec.Enrollment = v1alpha1.EnrollmentPolicy{Reenroll: v1alpha1.ReenrollAlways, Concurrency: v1alpha1.ConcurrencyReplace}
		}))
		first := enroll(wf, event("r1", "c-r"), "c-r")
		Eventually(phaseOf(first)).Should(Equal(v1alpha1.RunWaiting))
		second := enroll(wf, event("r2", "c-r"), "c-r")
		Eventually(phaseOf(second)).Should(Equal(v1alpha1.RunWaiting))
		Eventually(func(g Gomega) {
			got := getRun(first)(g)
			g.Expect(got.Status.Phase).To(Equal(v1alpha1.RunCancelled))
			g.Expect(got.Status.Result).To(Equal(v1alpha1.ReasonCancelled))
		}).Should(Succeed())
	})

	It("fails a run whose revision is another workflow's, or no workflow's, instead of retrying it for ever", func() {
		mine := createWorkflow(remindWorkflow(ns, "mine"))
		other := createWorkflow(remindWorkflow(ns, "other", fixture.SetSteps(fixture.NotifyStep("remind", "other {{ subject }}"))))
		otherRev := enrollObject(other, event("o1", "c-o"), "c-o").Spec.WorkflowRevision
		garbage := &appsv1.ControllerRevision{
			ObjectMeta: metav1.ObjectMeta{Name: "garbage", Namespace: ns},
			Revision:   1,
			Data:       runtime.RawExtension{Raw: []byte(`{"steps": 5}`)},
		}
		Expect(k8sClient.Create(suiteCtx, garbage)).To(Succeed())
		for i, rev := range []string{otherRev, garbage.Name} {
			run := enrollObject(mine, event(fmt.Sprint("forged-", i), "c-f"), "c-f")
			run.Spec.WorkflowRevision = rev
			Expect(k8sClient.Create(suiteCtx, run)).To(Succeed())
			Eventually(func(g Gomega) {
				got := getRun(run)(g)
				g.Expect(got.Status.Phase).To(Equal(v1alpha1.RunFailed))
				g.Expect(got.Status.Result).To(Equal(v1alpha1.ReasonInvalidWorkflow))
				g.Expect(got.Status.Message).To(ContainSubstring(rev))
				g.Expect(got.Status.Steps).To(BeEmpty(), "it ran none of the other spec's steps")
			}).Should(Succeed())
		}
	})

	It("enrolls a subject once under reenroll Never, even after its run is gone", func() {
		wf := createWorkflow(remindWorkflow(ns, "once", fixture.SetSteps(fixture.NotifyStep("remind", "once {{ subject }}")), func(w *v1alpha1.Workflow) {
			w.Spec.Enrollment = v1alpha1.EnrollmentPolicy{Reenroll: v1alpha1.ReenrollNever, Concurrency: v1alpha1.ConcurrencyAllow}
		}))
		first := enroll(wf, event("n1", "c-n"), "c-n")
		Eventually(phaseOf(first)).Should(Equal(v1alpha1.RunSucceeded))
		Expect(k8sClient.Delete(suiteCtx, getRun(first)(Default))).To(Succeed())

		again := enroll(wf, event("n2", "c-n"), "c-n")
		Eventually(func(g Gomega) {
			got := getRun(again)(g)
			g.Expect(got.Status.Phase).To(Equal(v1alpha1.RunCancelled))
			g.Expect(got.Status.Message).To(HavePrefix(v1alpha1.SkipAlreadyEnrolled.String() + ": "))
			g.Expect(strings.Contains(got.Status.Message, first.Name)).To(BeTrue(), got.Status.Message)
		}).Should(Succeed())
	})
})
