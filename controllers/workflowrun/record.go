package workflowrun

import (
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/runner"
)

// recordTransitions emits Kubernetes Events for what a person must see
// (warnings: failures and retries; holds; enrollment skips) and counts
// started and finished runs. The run's status is its execution log, so a
// normal start or finish is not an Event. It runs only after the status that
// carries those transitions was written.
func (r *Reconciler) recordTransitions(run *v1alpha1.WorkflowRun, before v1alpha1.RunPhase, out *runner.Outcome) {
	if r.Recorder != nil {
		for _, t := range out.Transitions {
			if !t.Warning && !worthAnEvent(t.Reason) {
				continue
			}
			if !r.events.allow(run.Namespace+"/"+run.Spec.WorkflowName+"/"+t.Reason, r.Clock.Now()) {
				continue
			}
			kind := corev1.EventTypeNormal
			if t.Warning {
				kind = corev1.EventTypeWarning
			}
			r.Recorder.Eventf(run, nil, kind, t.Reason, "Advance", "%s", t.Message)
		}
	}
	if r.Metrics == nil {
		return
	}
	after := run.Status.Phase
	if before == "" && after != "" {
		r.Metrics.RunsStarted.WithLabelValues(run.Namespace, run.Spec.WorkflowName).Inc()
	}
	if !before.IsFinished() && after.IsFinished() {
		r.Metrics.RunsFinished.WithLabelValues(run.Namespace, run.Spec.WorkflowName, string(after)).Inc()
	}
}

// worthAnEvent: the normal transitions a person must see.
func worthAnEvent(reason string) bool {
	switch reason {
	case v1alpha1.ReasonPaused.String(), v1alpha1.ReasonDuplicateEvent.String(),
		v1alpha1.SkipActiveRun.String(), v1alpha1.SkipAlreadyEnrolled.String(), v1alpha1.SkipDuplicate.String():
		return true
	}
	return false
}

// eventLimiter lets one Kubernetes Event per key through per interval, so a
// flood of failing runs of one workflow costs one Event a minute, not one a run.
type eventLimiter struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// eventInterval is the least time between two Events of one workflow and reason.
const eventInterval = time.Minute

func (l *eventLimiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil {
		l.last = map[string]time.Time{}
	}
	if t, ok := l.last[key]; ok && now.Sub(t) < eventInterval {
		return false
	}
	if len(l.last) > 10000 { // bounded: forget everything rather than grow
		clear(l.last)
	}
	l.last[key] = now
	return true
}

// recordActions feeds the action attempts of one pass into the metrics.
func (r *Reconciler) recordActions(records []runner.ActionRecord) {
	if r.Metrics == nil {
		return
	}
	for _, a := range records {
		r.Metrics.StepDuration.WithLabelValues(a.Kind).Observe(a.Duration.Seconds())
		if a.Err != nil {
			r.Metrics.ActionErrors.WithLabelValues(a.Kind).Inc()
		}
	}
}
