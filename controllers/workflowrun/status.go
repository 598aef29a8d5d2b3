package workflowrun

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
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
func (r *Reconciler) writeStatus(ctx context.Context, run *v1alpha1.WorkflowRun, status v1alpha1.WorkflowRunStatus) (*v1alpha1.WorkflowRun, error) {
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

// completeStatus fills in what the engine does not know about a run's new
// status st: the revision the run was resolved to (rev, when its spec named
// none) and, once it finished, when it may leave etcd (keep after it
// finished).
func completeStatus(run *v1alpha1.WorkflowRun, st *v1alpha1.WorkflowRunStatus, rev string, keep time.Duration) {
	if rev != "" && run.Spec.WorkflowRevision == "" {
		st.WorkflowRevision = rev
	}
	if st.Phase.IsFinished() && st.RemoveAfter == "" {
		st.RemoveAfter = removeAfter(run, st, keep)
	}
}
