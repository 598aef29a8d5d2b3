package workflow

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/test/fixture"
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
			runs:  []v1alpha1.WorkflowRun{fixture.Run("a", t0, fixture.SetRunCompleted(t0.Add(time.Minute))), fixture.Run("b", t0, fixture.SetRunCompleted(t0.Add(2*time.Minute)))},
			limit: 2, want: []string{},
		},
		{
			name: "the newest by completion time are kept, whatever the creation order",
			runs: []v1alpha1.WorkflowRun{
				fixture.Run("created-first-finished-last", t0, fixture.SetRunCreated(t0), fixture.SetRunCompleted(t0.Add(10*time.Minute))),
				fixture.Run("oldest", t0, fixture.SetRunCreated(t0.Add(time.Minute)), fixture.SetRunCompleted(t0.Add(time.Minute))),
				fixture.Run("middle", t0, fixture.SetRunCreated(t0.Add(2*time.Minute)), fixture.SetRunCompleted(t0.Add(5*time.Minute))),
			},
			limit: 1, want: []string{"middle", "oldest"},
		},
		{
			name: "active runs and runs being deleted are neither kept nor pruned",
			runs: []v1alpha1.WorkflowRun{
				fixture.Run("active", t0, fixture.SetRunPhase(v1alpha1.RunWaiting)), fixture.Run("going", t0, fixture.SetRunCompleted(t0.Add(time.Hour)), fixture.SetRunDeleting(t0)),
				fixture.Run("new", t0, fixture.SetRunCompleted(t0.Add(2*time.Minute))), fixture.Run("old", t0, fixture.SetRunCompleted(t0.Add(time.Minute))),
			},
			limit: 1, want: []string{"old"},
		},
		{
			name: "failed and cancelled runs count as history",
			runs: []v1alpha1.WorkflowRun{
				fixture.Run("failed", t0, fixture.SetRunPhase(v1alpha1.RunFailed), fixture.SetRunCompleted(t0.Add(3*time.Minute))),
				fixture.Run("cancelled", t0, fixture.SetRunPhase(v1alpha1.RunCancelled), fixture.SetRunCompleted(t0.Add(time.Minute))),
				fixture.Run("ok", t0, fixture.SetRunCompleted(t0.Add(2*time.Minute))),
			},
			limit: 1, want: []string{"ok", "cancelled"},
		},
		{
			name: "ties on completion break by creation time, then by name",
			runs: []v1alpha1.WorkflowRun{
				fixture.Run("b", t0, fixture.SetRunCreated(t0.Add(time.Second)), fixture.SetRunCompleted(t0.Add(time.Hour))),
				fixture.Run("a", t0, fixture.SetRunCreated(t0.Add(time.Second)), fixture.SetRunCompleted(t0.Add(time.Hour))),
				fixture.Run("newer", t0, fixture.SetRunCreated(t0.Add(2*time.Second)), fixture.SetRunCompleted(t0.Add(time.Hour))),
			},
			limit: 1, want: []string{"b", "a"},
		},
		{
			name:  "without a completion time the creation time counts",
			runs:  []v1alpha1.WorkflowRun{fixture.Run("no-time", t0, fixture.SetRunPhase(v1alpha1.RunFailed), fixture.SetRunCreated(t0.Add(time.Hour))), fixture.Run("old", t0, fixture.SetRunCompleted(t0.Add(time.Minute)))},
			limit: 1, want: []string{"old"},
		},
		{
			name:  "a limit of 0 prunes every finished run",
			runs:  []v1alpha1.WorkflowRun{fixture.Run("a", t0, fixture.SetRunCompleted(t0.Add(time.Minute))), fixture.Run("b", t0, fixture.SetRunPhase(v1alpha1.RunRunning))},
			limit: 0, want: []string{"a"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			NewWithT(t).Expect(names(beyondHistoryLimit(tc.runs, tc.limit))).To(Equal(tc.want))
		})
	}
}
