//go:build !unit

package e2e

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// Test mode on a live Workflow: a dry run that names only the workflow runs
// its current revision, sends nothing, and is never counted as a real run.
var _ = Describe("Test runs of a live Workflow", func() {
	It("runs the current revision from workflowName alone and leaves the workflow's counts alone", func() {
		ns := newNamespace()
		clk := newFakeClock()
		startManager(managerOptions{namespace: ns, clock: clk, poll: fakeClockPoll})
		wf := createWorkflow(sample("vip-routing", ns))
		Eventually(func(g Gomega) string {
			got := &v1alpha1.Workflow{}
			g.Expect(k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(wf), got)).To(Succeed())
			return got.Status.CurrentRevision
		}).ShouldNot(BeEmpty())

		ev := cloudEvent("conversation.started", "try-1", "c-42", clk.Now(), map[string]any{
			"conversation": map[string]any{"contactId": "c-42", "channel": "chat"},
			"contact":      map[string]any{"id": "c-42", "firstName": "Ann", "lastName": "Lee", "tags": []string{"VIP"}},
		})
		run := &v1alpha1.WorkflowRun{
			ObjectMeta: metav1.ObjectMeta{Name: "try-vip", Namespace: ns},
			Spec:       v1alpha1.WorkflowRunSpec{WorkflowName: wf.Name, Subject: "c-42", Event: &ev, DryRun: true},
		}
		Expect(k8sClient.Create(suiteCtx, run)).To(Succeed())
		Eventually(func(g Gomega) {
			got := getRun(run)(g)
			g.Expect(got.Status.Phase).To(Equal(v1alpha1.RunSucceeded), "%s: %s", got.Status.Result, got.Status.Message)
			g.Expect(got.Status.WorkflowRevision).To(HavePrefix(wf.Name + "-"))
			g.Expect(stepOf(got, "notify-vip-team").Message).To(ContainSubstring("would"))
		}).Should(Succeed())
		Expect(target.on("/notify/"+ns+"/vip-support")).To(BeEmpty(), "a dry run sends nothing")

		Consistently(func(g Gomega) v1alpha1.RunCounts {
			got := &v1alpha1.Workflow{}
			g.Expect(k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(wf), got)).To(Succeed())
			return got.Status.Runs
		}, time.Second, 100*time.Millisecond).Should(Equal(v1alpha1.RunCounts{}), "dry runs are not counted")
	})

	It("fails a real run that carries its own spec, without a step, where no webhook refused it", func() {
		ns := newNamespace()
		clk := newFakeClock()
		startManager(managerOptions{namespace: ns, clock: clk, poll: fakeClockPoll})
		spec := sample("vip-routing", ns).Spec
		ev := cloudEvent("conversation.started", "inline-1", "c-42", clk.Now(), map[string]any{
			"conversation": map[string]any{"contactId": "c-42", "channel": "chat"},
			"contact":      map[string]any{"id": "c-42", "tags": []string{"VIP"}},
		})
		// This suite runs no admission webhooks: the run controller alone decides.
		run := &v1alpha1.WorkflowRun{
			ObjectMeta: metav1.ObjectMeta{Name: "inline-real", Namespace: ns},
			Spec:       v1alpha1.WorkflowRunSpec{WorkflowName: "vip-routing", Subject: "c-42", Event: &ev, Workflow: &spec},
		}
		Expect(k8sClient.Create(suiteCtx, run)).To(Succeed())
		Eventually(func(g Gomega) {
			got := getRun(run)(g)
			g.Expect(got.Status.Phase).To(Equal(v1alpha1.RunFailed))
			g.Expect(got.Status.Result).To(Equal(v1alpha1.ReasonInvalidWorkflow))
			g.Expect(got.Status.Message).To(ContainSubstring("spec.dryRun: true"))
			g.Expect(got.Status.Steps).To(BeEmpty())
		}).Should(Succeed())
		Consistently(func() []hit { return target.on("/notify/" + ns + "/vip-support") }, time.Second, 100*time.Millisecond).
			Should(BeEmpty(), "a run with an unreviewed inline spec acts on nothing")
	})
})
