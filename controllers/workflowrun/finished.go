package workflowrun

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/internal/history/archiver"
)

// retention is how long a run of spec stays in etcd once finished: the
// archive grace when an archiver keeps finished runs, else the workflow's
// history.ttlAfterFinished (an unreadable one: the API's default).
func (r *Reconciler) retention(spec *v1alpha1.WorkflowSpec) time.Duration {
	switch {
	case r.FinishedRunsArchived && r.ArchiveGrace > 0:
		return r.ArchiveGrace
	case r.FinishedRunsArchived:
		return archiver.DefaultGrace
	}
	if d, err := historyOf(spec).TTLAfterFinished.Parse(); err == nil {
		return d
	}
	return defaultTTL()
}

// historyOf is the defaulted history policy of spec, or the API's defaults
// when the run's spec could not be resolved.
func historyOf(spec *v1alpha1.WorkflowSpec) v1alpha1.HistoryPolicy {
	if spec == nil {
		return v1alpha1.HistoryPolicy{}.Defaulted()
	}
	return spec.History.Defaulted()
}

// defaultTTL is the API's history.ttlAfterFinished default as a duration.
func defaultTTL() time.Duration {
	d, _ := v1alpha1.DefaultTTLAfterFinished.Parse() // parses: TestRetentionAndRemoveAfter, "no spec"
	return d
}

// removeAfter is the status.removeAfter of a run finishing with status st:
// its completion (else its creation) plus keep, the retention in etcd.
func removeAfter(run *v1alpha1.WorkflowRun, st *v1alpha1.WorkflowRunStatus, keep time.Duration) string {
	done := run.CreationTimestamp.Time
	if st.CompletionTime != nil {
		done = st.CompletionTime.Time
	}
	return v1alpha1.RemoveAfterValue(done.Add(keep))
}

// reconcileFinished deletes a finished run when its TTL after completion has
// passed and requeues for that moment until then. A run that carries
// status.removeAfter is left to the RunCleaner, which removes a slot's
// runs with one collection delete.
func (r *Reconciler) reconcileFinished(ctx context.Context, run *v1alpha1.WorkflowRun, spec *v1alpha1.WorkflowSpec, now time.Time) (ctrl.Result, error) {
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
		return r.after(due.Sub(now)), nil
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
	ttl, err := historyOf(spec).TTLAfterFinished.Parse()
	if err != nil {
		return time.Time{}, fmt.Errorf("spec.history.ttlAfterFinished: %w", err)
	}
	finished := run.CreationTimestamp.Time
	if run.Status.CompletionTime != nil {
		finished = run.Status.CompletionTime.Time
	}
	return finished.Add(ttl), nil
}
