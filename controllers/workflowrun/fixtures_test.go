package workflowrun

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// t0 is the fixed "now" of the pure controller tests.
var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// runOpt changes a fixture run.
type runOpt func(*v1alpha1.WorkflowRun)

// newRun builds a run named name, created at t0, with the options applied.
func newRun(name string, opts ...runOpt) v1alpha1.WorkflowRun {
	r := v1alpha1.WorkflowRun{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "sales", CreationTimestamp: metav1.NewTime(t0)}}
	for _, o := range opts {
		o(&r)
	}
	return r
}

func inPhase(p v1alpha1.RunPhase) runOpt {
	return func(r *v1alpha1.WorkflowRun) { r.Status.Phase = p }
}

// completedAt marks a run finished (Succeeded unless a phase was set) at t0+d.
func completedAt(d time.Duration) runOpt {
	return func(r *v1alpha1.WorkflowRun) {
		if !r.Status.Phase.IsFinished() {
			r.Status.Phase = v1alpha1.RunSucceeded
		}
		t := metav1.NewTime(t0.Add(d))
		r.Status.CompletionTime = &t
	}
}

func createdAt(d time.Duration) runOpt {
	return func(r *v1alpha1.WorkflowRun) { r.CreationTimestamp = metav1.NewTime(t0.Add(d)) }
}
