package controllers

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// TestAppendedEvents covers the merge of a status write that conflicted:
// only events intake appended meanwhile may be carried over.
func TestAppendedEvents(t *testing.T) {
	waiting := func(opts ...runOpt) v1alpha1.WorkflowRunStatus {
		r := newRun("r", append([]runOpt{inPhase(v1alpha1.RunWaiting), func(r *v1alpha1.WorkflowRun) { r.Status.CurrentStep = "await" }}, opts...)...)
		return r.Status
	}
	cases := []struct {
		name     string
		read     v1alpha1.WorkflowRunStatus
		fresh    v1alpha1.WorkflowRunStatus
		ok       bool
		appended []string
	}{
		{name: "nothing changed", read: waiting(), fresh: waiting(), ok: true, appended: []string{}},
		{name: "one event appended", read: waiting(), fresh: waiting(withPending("m-1")), ok: true, appended: []string{"m-1"}},
		{name: "events appended after ones already read", read: waiting(withPending("m-1")), fresh: waiting(withPending("m-1", "m-2", "m-3")), ok: true, appended: []string{"m-2", "m-3"}},
		{name: "a pending event removed", read: waiting(withPending("m-1", "m-2")), fresh: waiting(withPending("m-2")), ok: false},
		{name: "a pending event replaced", read: waiting(withPending("m-1")), fresh: waiting(withPending("m-9", "m-2")), ok: false},
		{
			name: "another status field changed", read: waiting(),
			fresh: waiting(withPending("m-1"), func(r *v1alpha1.WorkflowRun) { r.Status.CurrentStep = "later" }), ok: false,
		},
		{
			name: "a step recorded meanwhile (our own earlier write)", read: waiting(),
			fresh: waiting(func(r *v1alpha1.WorkflowRun) {
				r.Status.Steps = []v1alpha1.StepStatus{{Name: "a", Phase: v1alpha1.StepSucceeded}}
			}), ok: false,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			got, ok := appendedEvents(tc.read, tc.fresh)
			g.Expect(ok).To(Equal(tc.ok))
			if !tc.ok {
				g.Expect(got).To(BeEmpty())
				return
			}
			ids := []string{}
			for _, ev := range got {
				ids = append(ids, ev.ID)
			}
			g.Expect(ids).To(Equal(tc.appended))
		})
	}
}

func TestTTLDue(t *testing.T) {
	cases := []struct {
		name string
		run  v1alpha1.WorkflowRun
		want time.Time
		err  string
	}{
		{name: "default TTL from completion", run: newRun("r", completedAt(time.Hour)), want: t0.Add(time.Hour + 7*24*time.Hour)},
		{name: "the snapshot's TTL", run: newRun("r", completedAt(time.Hour), withTTL("2h")), want: t0.Add(3 * time.Hour)},
		{name: "no completion time: from creation", run: newRun("r", inPhase(v1alpha1.RunFailed), createdAt(time.Minute), withTTL("1h")), want: t0.Add(61 * time.Minute)},
		{name: "an unreadable TTL names the field", run: newRun("r", completedAt(0), withTTL("soon")), err: "spec.workflow.history.ttlAfterFinished"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			got, err := ttlDue(&tc.run)
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
