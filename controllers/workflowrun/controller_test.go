package workflowrun

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	ctrl "sigs.k8s.io/controller-runtime"
)

// capAt is a requeue policy like the suites' on a fake clock: no wait is
// longer than it, and a run without a wake is revisited at that interval.
type capAt time.Duration

func (c capAt) RequeueAfter(d time.Duration) time.Duration {
	if d == 0 || d > time.Duration(c) {
		return time.Duration(c)
	}
	return d
}

func TestRequeue(t *testing.T) {
	at := func(d time.Duration) *time.Time { w := t0.Add(d); return &w }
	cases := []struct {
		name   string
		wakeAt *time.Time
		max    capAt
		want   time.Duration
	}{
		{name: "no wake: no requeue", want: 0},
		{name: "a future wake", wakeAt: at(time.Hour), want: time.Hour},
		{name: "a wake already due fires at once", wakeAt: at(-time.Minute), want: time.Nanosecond},
		{name: "the cap shortens a long wait", wakeAt: at(time.Hour), max: capAt(100 * time.Millisecond), want: 100 * time.Millisecond},
		{name: "the cap revisits a run without a wake", max: capAt(100 * time.Millisecond), want: 100 * time.Millisecond},
		{name: "a wait shorter than the cap is kept", wakeAt: at(time.Millisecond), max: capAt(time.Second), want: time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &Reconciler{}
			if tc.max > 0 {
				r.Requeue = tc.max
			}
			NewWithT(t).Expect(r.requeue(tc.wakeAt, t0)).To(Equal(ctrl.Result{RequeueAfter: tc.want}))
		})
	}
}
