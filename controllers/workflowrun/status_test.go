package workflowrun

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/test/fixture"
)

func TestCompleteStatus(t *testing.T) {
	done := metav1.NewTime(t0.Add(time.Minute))
	cases := []struct {
		name     string
		run      v1alpha1.WorkflowRun
		st       v1alpha1.WorkflowRunStatus
		rev      string
		wantRev  string
		wantGone string
	}{
		{name: "an unfinished run gets the revision it was resolved to", run: fixture.Run("r", t0), st: v1alpha1.WorkflowRunStatus{Phase: v1alpha1.RunRunning}, rev: "wf-1", wantRev: "wf-1"},
		{name: "a run naming its revision keeps the status as is", run: fixture.Run("r", t0, func(r *v1alpha1.WorkflowRun) { r.Spec.WorkflowRevision = "wf-1" }), rev: "wf-1"},
		{name: "a finished run gets when it may leave etcd",
			run: fixture.Run("r", t0), st: v1alpha1.WorkflowRunStatus{Phase: v1alpha1.RunSucceeded, CompletionTime: &done},
			wantGone: v1alpha1.RemoveAfterValue(t0.Add(2 * time.Minute))},
		{name: "a removeAfter already set is kept",
			run: fixture.Run("r", t0), st: v1alpha1.WorkflowRunStatus{Phase: v1alpha1.RunSucceeded, CompletionTime: &done, RemoveAfter: "earlier"},
			wantGone: "earlier"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			st := tc.st
			completeStatus(&tc.run, &st, tc.rev, time.Minute)
			g.Expect(st.WorkflowRevision).To(Equal(tc.wantRev))
			g.Expect(st.RemoveAfter).To(Equal(tc.wantGone))
		})
	}
}
