package workflow

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

func TestBeyondHistoryLimit(t *testing.T) {
	cases := []struct {
		name  string
		runs  []v1alpha1.WorkflowRun
		limit int
		want  []string // oldest last, in the order returned
	}{
		{
			name:  "within the limit nothing is pruned",
			runs:  []v1alpha1.WorkflowRun{newRun("a", completedAt(time.Minute)), newRun("b", completedAt(2*time.Minute))},
			limit: 2, want: []string{},
		},
		{
			name: "the newest by completion time are kept, whatever the creation order",
			runs: []v1alpha1.WorkflowRun{
				newRun("created-first-finished-last", createdAt(0), completedAt(10*time.Minute)),
				newRun("oldest", createdAt(time.Minute), completedAt(time.Minute)),
				newRun("middle", createdAt(2*time.Minute), completedAt(5*time.Minute)),
			},
			limit: 1, want: []string{"middle", "oldest"},
		},
		{
			name: "active runs and runs being deleted are neither kept nor pruned",
			runs: []v1alpha1.WorkflowRun{
				newRun("active", inPhase(v1alpha1.RunWaiting)), newRun("going", completedAt(time.Hour), beingDeleted()),
				newRun("new", completedAt(2*time.Minute)), newRun("old", completedAt(time.Minute)),
			},
			limit: 1, want: []string{"old"},
		},
		{
			name: "failed and cancelled runs count as history",
			runs: []v1alpha1.WorkflowRun{
				newRun("failed", inPhase(v1alpha1.RunFailed), completedAt(3*time.Minute)),
				newRun("cancelled", inPhase(v1alpha1.RunCancelled), completedAt(time.Minute)),
				newRun("ok", completedAt(2*time.Minute)),
			},
			limit: 1, want: []string{"ok", "cancelled"},
		},
		{
			name: "ties on completion break by creation time, then by name",
			runs: []v1alpha1.WorkflowRun{
				newRun("b", createdAt(time.Second), completedAt(time.Hour)),
				newRun("a", createdAt(time.Second), completedAt(time.Hour)),
				newRun("newer", createdAt(2*time.Second), completedAt(time.Hour)),
			},
			limit: 1, want: []string{"b", "a"},
		},
		{
			name:  "without a completion time the creation time counts",
			runs:  []v1alpha1.WorkflowRun{newRun("no-time", inPhase(v1alpha1.RunFailed), createdAt(time.Hour)), newRun("old", completedAt(time.Minute))},
			limit: 1, want: []string{"old"},
		},
		{
			name:  "a limit of 0 prunes every finished run",
			runs:  []v1alpha1.WorkflowRun{newRun("a", completedAt(time.Minute)), newRun("b", inPhase(v1alpha1.RunRunning))},
			limit: 0, want: []string{"a"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			NewWithT(t).Expect(names(beyondHistoryLimit(tc.runs, tc.limit))).To(Equal(tc.want))
		})
	}
}
