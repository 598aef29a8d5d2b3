package workflowrun

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// TestAppendedEvents covers the merge of a status write that conflicted:
// only events intake appended meanwhile may be carried over.
func TestTTLDue(t *testing.T) {
	ttl := func(d v1alpha1.Duration) *v1alpha1.WorkflowSpec {
		return &v1alpha1.WorkflowSpec{History: v1alpha1.HistoryPolicy{TTLAfterFinished: &d}}
	}
	cases := []struct {
		name string
		run  v1alpha1.WorkflowRun
		spec *v1alpha1.WorkflowSpec
		want time.Time
		err  string
	}{
		{name: "default TTL from completion", run: newRun("r", completedAt(time.Hour)), want: t0.Add(time.Hour + 7*24*time.Hour)},
		{name: "the revision's TTL", run: newRun("r", completedAt(time.Hour)), spec: ttl("2h"), want: t0.Add(3 * time.Hour)},
		{name: "no completion time: from creation", run: newRun("r", inPhase(v1alpha1.RunFailed), createdAt(time.Minute)), spec: ttl("1h"), want: t0.Add(61 * time.Minute)},
		{name: "an unreadable TTL names the field", run: newRun("r", completedAt(0)), spec: ttl("soon"), err: "spec.history.ttlAfterFinished"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			got, err := ttlDue(&tc.run, tc.spec)
			if tc.err != "" {
				g.Expect(err).To(MatchError(ContainSubstring(tc.err)))
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(Equal(tc.want))
		})
	}
}

func TestRequeue(t *testing.T) {
	at := func(d time.Duration) *time.Time { w := t0.Add(d); return &w }
	cases := []struct {
		name   string
		wakeAt *time.Time
		max    time.Duration
		want   time.Duration
	}{
		{name: "no wake: no requeue", want: 0},
		{name: "a future wake", wakeAt: at(time.Hour), want: time.Hour},
		{name: "a wake already due fires at once", wakeAt: at(-time.Minute), want: time.Nanosecond},
		{name: "the cap shortens a long wait", wakeAt: at(time.Hour), max: 100 * time.Millisecond, want: 100 * time.Millisecond},
		{name: "the cap revisits a run without a wake", max: 100 * time.Millisecond, want: 100 * time.Millisecond},
		{name: "a wait shorter than the cap is kept", wakeAt: at(time.Millisecond), max: time.Second, want: time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &WorkflowRunReconciler{MaxRequeueAfter: tc.max}
			NewWithT(t).Expect(r.requeue(tc.wakeAt, t0)).To(Equal(ctrl.Result{RequeueAfter: tc.want}))
		})
	}
}
