//go:build !unit

package main

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/internal/history"
	"github.com/crmflow/crmflow/internal/history/historytest"
)

// TestArchivedRunsReadAsLive drives runs, history, contact and stats against
// a real API server and a real history API: a run printed live prints the
// same once archived and deleted from etcd, weeks later.
func TestArchivedRunsReadAsLive(t *testing.T) {
	g := NewWithT(t)
	ctx := t.Context()
	// A reader ServiceAccount whose token the plugin uses for both servers.
	srvs := startReaderServer(t)
	admin, kubeconfig := srvs.admin, srvs.kubeconfig

	// The history API over a SQLite store, with its certificate in a file.
	hs := historytest.Serve(t, admin)
	store := hs.Store
	hist := []string{"--kubeconfig", kubeconfig, "--history-url", hs.URL, "--history-ca-file", hs.CAFile}

	// A finished run in etcd.
	run := &v1alpha1.WorkflowRun{
		ObjectMeta: metav1.ObjectMeta{Name: "vip-routing-7f3c9a", Namespace: "sales", Labels: map[string]string{v1alpha1.LabelWorkflow: "vip-routing"}},
		Spec: v1alpha1.WorkflowRunSpec{
			WorkflowName: "vip-routing", WorkflowRevision: "vip-routing-5d8f", WorkflowGeneration: 3, Subject: "c-42",
			Event: &v1alpha1.CloudEvent{ID: "ev-1", Source: "crm", Type: "conversation.started", Subject: "c-42",
				Time: ptr.To(metav1.NewTime(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))), Data: &runtime.RawExtension{Raw: []byte(`{"contact":{"id":"c-42"}}`)}},
		},
	}
	g.Expect(admin.Create(ctx, run)).To(Succeed())
	start := metav1.NewTime(run.CreationTimestamp.Add(time.Second))
	end := metav1.NewTime(run.CreationTimestamp.Add(3 * time.Second))
	run.Status = v1alpha1.WorkflowRunStatus{
		Phase: v1alpha1.RunSucceeded, StartTime: &start, CompletionTime: &end, Result: v1alpha1.ReasonCompleted, Message: "all steps done",
		Conditions: []metav1.Condition{
			{Type: v1alpha1.RunEnrolledCondition, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonConditionsMet.String(), LastTransitionTime: start},
			{Type: v1alpha1.RunSucceededCondition, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonCompleted.String(), LastTransitionTime: end},
		},
		ConditionResults: []v1alpha1.ConditionResult{{Name: "vip", Expression: `"VIP" in contact.tags`, Result: true, Message: "tagged VIP"}},
		Steps: []v1alpha1.StepStatus{
			{Name: "notify", Phase: v1alpha1.StepSucceeded, StartTime: &start, FinishTime: &end, Attempts: 2, IdempotencyKey: "k-1",
				Message: "delivered", Output: &runtime.RawExtension{Raw: []byte(`{"status":200}`)}},
			{Name: "tag", Phase: v1alpha1.StepSkipped, Message: "guard was false"},
		},
	}
	g.Expect(admin.Status().Update(ctx, run)).To(Succeed())
	weeksLater := run.CreationTimestamp.Add(21 * 24 * time.Hour)

	live, errOut, code := runPluginAt(weeksLater, append([]string{"history", run.Name}, hist...)...)
	g.Expect(code).To(Equal(0), errOut)
	g.Expect(live).To(ContainSubstring("tagged VIP"))
	g.Expect(live).To(ContainSubstring("Enrolled:   yes"))

	// Archiving it and deleting it from etcd, as the archiver does.
	g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(run), run)).To(Succeed())
	g.Expect(store.Archive(ctx, []history.Run{history.RecordFromRun(run)})).To(Succeed())
	g.Expect(admin.Delete(ctx, run)).To(Succeed())
	g.Eventually(func() bool {
		return client.IgnoreNotFound(admin.Get(ctx, client.ObjectKeyFromObject(run), &v1alpha1.WorkflowRun{})) == nil &&
			admin.Get(ctx, client.ObjectKeyFromObject(run), &v1alpha1.WorkflowRun{}) != nil
	}).Should(BeTrue())
	_, err := store.RecordSkips(ctx, []history.Skip{{Namespace: "sales", Workflow: "vip-routing", Reason: "ConditionsNotMet",
		EventID: "ev-2", Subject: "c-42", Message: "contact is not tagged VIP", Time: run.CreationTimestamp.Add(time.Hour)}})
	g.Expect(err).NotTo(HaveOccurred())

	archived, errOut, code := runPluginAt(weeksLater, append([]string{"history", run.Name}, hist...)...)
	g.Expect(code).To(Equal(0), errOut)
	g.Expect(archived).To(Equal(live), "an archived run prints exactly as it printed live")

	_, errOut, code = runPluginAt(weeksLater, "history", run.Name, "--kubeconfig", kubeconfig)
	g.Expect(code).To(Equal(1), "without the history the run is gone")
	g.Expect(errOut).To(ContainSubstring("not found"))
	_, errOut, code = runPluginAt(weeksLater, append([]string{"history", "nope"}, hist...)...)
	g.Expect(code).To(Equal(1))
	g.Expect(errOut).To(ContainSubstring(`run "nope" not found in namespace "sales"`))

	out, errOut, code := runPluginAt(weeksLater, append([]string{"runs", "vip-routing"}, hist...)...)
	g.Expect(code).To(Equal(0), errOut)
	g.Expect(out).To(MatchRegexp(`vip-routing-7f3c9a\s+c-42\s+Succeeded\s+-\s+Completed\s+false\s+21d`))

	out, errOut, code = runPluginAt(weeksLater, append([]string{"contact", "c-42"}, hist...)...)
	g.Expect(code).To(Equal(0), errOut)
	g.Expect(out).To(ContainSubstring("vip-routing-7f3c9a"))
	g.Expect(out).To(ContainSubstring("notify=Succeeded tag=Skipped"))
	g.Expect(out).To(MatchRegexp(`ConditionsNotMet\s+ev-2\s+contact is not tagged VIP`))

	out, errOut, code = runPluginAt(weeksLater, append([]string{"stats", "vip-routing", "--days", "30"}, hist...)...)
	g.Expect(code).To(Equal(0), errOut)
	g.Expect(out).To(MatchRegexp(`total\s+1\s+1\s+0\s+0\s+0\s+0.0%`))
	g.Expect(out).To(MatchRegexp(`notify\s+1\s+1\s+0\s+0`))

	_, errOut, code = runPluginAt(weeksLater, "stats", "vip-routing", "--kubeconfig", kubeconfig)
	g.Expect(code).To(Equal(1))
	g.Expect(errOut).To(ContainSubstring("--history-url"))
}
