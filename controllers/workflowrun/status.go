package workflowrun

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/runner"
)

// writeStatus writes status with the resourceVersion of run, the version the
// engine read. This controller is the only writer of run status, so a
// conflict means someone changed the run's spec or metadata meanwhile
// (intake delivered an event to spec.inbox, a user set spec.cancel, a
// label): the status this pass computed still records exactly what it
// performed, so it is written again onto the fresh version, and the next
// pass acts on the new spec. A conflict whose fresh status differs from the
// one read (a second writer, or a pass from an older cache) is returned, and
// the workqueue's backoff retries from a live read.
//
// The version written, or on a conflict the version read live, is
// remembered so that the next pass does not advance from an older cache.
func (r *WorkflowRunReconciler) writeStatus(ctx context.Context, run *v1alpha1.WorkflowRun, status v1alpha1.WorkflowRunStatus) (*v1alpha1.WorkflowRun, error) {
	key := client.ObjectKeyFromObject(run)
	read := run
	for attempt := 0; ; attempt++ {
		updated := read.DeepCopy()
		updated.Status = status
		err := r.Status().Update(ctx, updated)
		if err == nil {
			r.known.set(key, updated.ResourceVersion)
			return updated, nil
		}
		if !apierrors.IsConflict(err) || attempt == maxStatusRebases {
			return nil, fmt.Errorf("write status of run %s: %w", klog.KObj(run), err)
		}
		fresh := &v1alpha1.WorkflowRun{}
		if err := r.APIReader.Get(ctx, key, fresh); err != nil {
			return nil, fmt.Errorf("re-read run %s after a conflict: %w", klog.KObj(run), err)
		}
		r.known.set(key, fresh.ResourceVersion)
		if !equality.Semantic.DeepEqual(run.Status, fresh.Status) {
			return nil, fmt.Errorf("write status of run %s: its status changed since it was read: %w", klog.KObj(run), err)
		}
		read = fresh
	}
}

// maxStatusRebases bounds how often one pass re-applies its status onto a
// run whose spec or metadata keeps changing.
const maxStatusRebases = 8

// recordTransitions emits Kubernetes Events for what a person must see
// (warnings: failures and retries; holds; enrolment skips) and counts
// started and finished runs. The run's status is its execution log, so a
// normal start or finish is not an Event. It runs only after the status that
// carries those transitions was written.
func (r *WorkflowRunReconciler) recordTransitions(run *v1alpha1.WorkflowRun, before v1alpha1.RunPhase, out runner.Outcome) {
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
	case v1alpha1.ReasonPaused, v1alpha1.ReasonDuplicateEvent,
		v1alpha1.SkipActiveRun, v1alpha1.SkipAlreadyEnrolled, v1alpha1.SkipDuplicate:
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
func (r *WorkflowRunReconciler) recordActions(records []runner.ActionRecord) {
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

// DefaultTTLAfterFinished is the API's default for history.ttlAfterFinished.
const DefaultTTLAfterFinished = 7 * 24 * time.Hour

// DefaultArchiveGrace is how long an archived run stays in etcd by default.
const DefaultArchiveGrace = time.Minute

// removeAfter is the status.removeAfter of a run finishing with status st:
// its completion plus the retention in etcd.
func (r *WorkflowRunReconciler) removeAfter(run *v1alpha1.WorkflowRun, st *v1alpha1.WorkflowRunStatus, spec *v1alpha1.WorkflowSpec) string {
	done := run.CreationTimestamp.Time
	if st.CompletionTime != nil {
		done = st.CompletionTime.Time
	}
	keep := DefaultTTLAfterFinished
	switch {
	case r.FinishedRunsArchived && r.ArchiveGrace > 0:
		keep = r.ArchiveGrace
	case r.FinishedRunsArchived:
		keep = DefaultArchiveGrace
	case spec != nil && spec.History.TTLAfterFinished != nil:
		if d, err := spec.History.TTLAfterFinished.Parse(); err == nil {
			keep = d
		}
	}
	return v1alpha1.RemoveAfterMinute(done.Add(keep))
}

// reconcileFinished deletes a finished run when its TTL after completion has
// passed and requeues for that moment until then. A run that carries
// status.removeAfter is left to the RunCleaner, which removes a minute's
// runs with one collection delete.
func (r *WorkflowRunReconciler) reconcileFinished(ctx context.Context, run *v1alpha1.WorkflowRun, spec *v1alpha1.WorkflowSpec, now time.Time) (ctrl.Result, error) {
	if run.Status.RemoveAfter != "" {
		return ctrl.Result{}, nil
	}
	due, err := ttlDue(run, spec)
	if err != nil {
		// An unreadable TTL keeps the run; the history limit still bounds it.
		ctrl.LoggerFrom(ctx).Info("keeping finished run: bad ttlAfterFinished", "error", err.Error())
		return ctrl.Result{}, nil
	}
	if now.Before(due) {
		return r.capped(due.Sub(now)), nil
	}
	uid := run.UID
	r.known.forget(client.ObjectKeyFromObject(run))
	err = r.Delete(ctx, run, client.Preconditions{UID: &uid}, client.PropagationPolicy("Background"))
	if err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, fmt.Errorf("delete run %s after its TTL: %w", klog.KObj(run), err)
	}
	return ctrl.Result{}, nil
}

// ttlDue is when a finished run may be deleted: its completion time (else
// its creation) plus the workflow's history.ttlAfterFinished.
func ttlDue(run *v1alpha1.WorkflowRun, spec *v1alpha1.WorkflowSpec) (time.Time, error) {
	ttl := DefaultTTLAfterFinished
	if spec != nil && spec.History.TTLAfterFinished != nil {
		v, err := spec.History.TTLAfterFinished.Parse()
		if err != nil {
			return time.Time{}, fmt.Errorf("spec.history.ttlAfterFinished: %w", err)
		}
		ttl = v
	}
	finished := run.CreationTimestamp.Time
	if run.Status.CompletionTime != nil {
		finished = run.Status.CompletionTime.Time
	}
	return finished.Add(ttl), nil
}
