package enrollment

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/runner"
)

func TestCandidatesLeaveOutRunsThatDoNotHoldASubject(t *testing.T) {
	g := NewWithT(t)
	created := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	run := func(name string, opt func(*v1alpha1.WorkflowRun)) v1alpha1.WorkflowRun {
		r := v1alpha1.WorkflowRun{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(created)}}
		opt(&r)
		return r
	}
	deleting := metav1.NewTime(created)
	got := Candidates([]v1alpha1.WorkflowRun{
		run("pending", func(*v1alpha1.WorkflowRun) {}),
		run("running", func(r *v1alpha1.WorkflowRun) { r.Status.Phase = v1alpha1.RunRunning }),
		run("done", func(r *v1alpha1.WorkflowRun) { r.Status.Phase = v1alpha1.RunSucceeded }),
		run("dry", func(r *v1alpha1.WorkflowRun) { r.Spec.DryRun = true }),
		run("deleting", func(r *v1alpha1.WorkflowRun) { r.DeletionTimestamp = &deleting }),
		run("refused", func(r *v1alpha1.WorkflowRun) {
			r.Status.Phase, r.Status.Result = v1alpha1.RunCancelled, v1alpha1.ReasonNotAdmitted
		}),
	})
	g.Expect(got).To(Equal([]runner.Candidate{
		{Name: "pending", Created: created},
		{Name: "running", Created: created, Started: true},
		{Name: "done", Created: created, Started: true, Finished: true},
	}))
}
