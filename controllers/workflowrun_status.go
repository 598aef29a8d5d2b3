package controllers

import (
	"context"
	"fmt"
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

// maxRebases bounds how often one pass re-applies its outcome onto a run
// that changed meanwhile. Intake can append at most 32 events (the schema's
// limit on status.pendingEvents) before the run consumes them, and metadata
// writes are rare, so a pass that keeps merging always ends well before it.
const maxRebases = 40

// writeStatus writes status with the resourceVersion of run, the version the
// engine read. On a conflict it re-reads the run live; when its status
// differs only by events intake appended to status.pendingEvents meanwhile
// (intake's one way of writing a run's status), it keeps them and writes
// again. Changes to metadata or spec (a label, spec.cancel) do not stop the
// write: the status records what this pass already performed, and the next
// pass acts on the new spec. So a conflict never costs a repeated side
// effect. Any other status difference is returned as the conflict.
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
		if !apierrors.IsConflict(err) || attempt == maxRebases {
			return nil, fmt.Errorf("write status of run %s: %w", klog.KObj(run), err)
		}
		fresh := &v1alpha1.WorkflowRun{}
		if err := r.APIReader.Get(ctx, key, fresh); err != nil {
			return nil, fmt.Errorf("re-read run %s after a conflict: %w", klog.KObj(run), err)
		}
		r.known.set(key, fresh.ResourceVersion)
		appended, ok := appendedEvents(run.Status, fresh.Status)
		if !ok {
			return nil, err
		}
		status = *status.DeepCopy()
		status.PendingEvents = append(status.PendingEvents, appended...)
		read = fresh
	}
}

// appendedEvents returns the events fresh holds beyond those of read, when
// fresh equals read apart from events appended to pendingEvents.
func appendedEvents(read, fresh v1alpha1.WorkflowRunStatus) ([]v1alpha1.CloudEvent, bool) {
	n := len(read.PendingEvents)
	if len(fresh.PendingEvents) < n || !equality.Semantic.DeepEqual(read.PendingEvents, fresh.PendingEvents[:n]) {
		return nil, false
	}
	a, b := read.DeepCopy(), fresh.DeepCopy()
	a.PendingEvents, b.PendingEvents = nil, nil
	if !equality.Semantic.DeepEqual(a, b) {
		return nil, false
	}
	return fresh.PendingEvents[n:], true
}

// recordTransitions emits a Kubernetes Event per transition the engine
// reported and counts started and finished runs. It runs only after the
// status that carries those transitions was written.
func (r *WorkflowRunReconciler) recordTransitions(run *v1alpha1.WorkflowRun, before v1alpha1.RunPhase, out runner.Outcome) {
	if r.Recorder != nil {
		for _, t := range out.Transitions {
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

// defaultTTLAfterFinished is the API's default for history.ttlAfterFinished,
// used for snapshots taken without defaulting.
const defaultTTLAfterFinished = 7 * 24 * time.Hour

// reconcileFinished labels a finished run crmflow.io/finished=true (one
// metadata patch, so active runs stay cheap to select) and deletes it when
// its TTL after completion has passed; until then it requeues for that moment.
func (r *WorkflowRunReconciler) reconcileFinished(ctx context.Context, run *v1alpha1.WorkflowRun, now time.Time) (ctrl.Result, error) {
	if run.Labels[v1alpha1.LabelFinished] != "true" {
		base := run.DeepCopy()
		if run.Labels == nil {
			run.Labels = map[string]string{}
		}
		run.Labels[v1alpha1.LabelFinished] = "true"
		if err := r.Patch(ctx, run, client.MergeFrom(base)); err != nil {
			return ctrl.Result{}, fmt.Errorf("label finished run %s: %w", klog.KObj(run), err)
		}
		r.known.set(client.ObjectKeyFromObject(run), run.ResourceVersion)
	}
	due, err := ttlDue(run)
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
// its creation) plus spec.workflow.history.ttlAfterFinished.
func ttlDue(run *v1alpha1.WorkflowRun) (time.Time, error) {
	ttl := defaultTTLAfterFinished
	if d := run.Spec.Workflow.History.TTLAfterFinished; d != nil {
		v, err := d.Parse()
		if err != nil {
			return time.Time{}, fmt.Errorf("spec.workflow.history.ttlAfterFinished: %w", err)
		}
		ttl = v
	}
	finished := run.CreationTimestamp.Time
	if run.Status.CompletionTime != nil {
		finished = run.Status.CompletionTime.Time
	}
	return finished.Add(ttl), nil
}
