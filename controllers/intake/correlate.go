package intake

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/controllers/index"
)

// maxPendingEvents is the WorkflowRun schema's limit on status.pendingEvents.
const maxPendingEvents = 32

// deliver appends ev to status.pendingEvents of every not-finished run in
// namespace ns whose subject is one of subjects and that listens to ev's
// type now (its current waitForEvent step or an exit goal). Runs are found
// through the cache index by subject, never by listing the API server.
// Subjects are the event's subject attribute and the subjects the
// workflows listening to its type computed from it.
//
// Each append is a status update carrying the resourceVersion read, retried
// on conflict after a live re-read, so it never erases the run controller's
// writes; an event already pending (same source and id) is not appended
// twice. Consuming it exactly once is the run controller's job.
func (r *Receiver) deliver(ctx context.Context, ns string, ev *v1alpha1.CloudEvent, subjects []string) ([]string, error) {
	var delivered []string
	for _, subject := range subjects {
		var runs v1alpha1.WorkflowRunList
		if err := r.client.List(ctx, &runs, client.InNamespace(ns), client.MatchingFields{index.RunBySubject: subject}); err != nil {
			return nil, fmt.Errorf("list runs of subject %q: %w", subject, err)
		}
		for i := range runs.Items {
			run := &runs.Items[i]
			if !wantsEvent(run, ev) {
				continue
			}
			ok, err := r.appendPending(ctx, run, ev)
			if err != nil {
				return nil, err
			}
			if ok {
				delivered = append(delivered, run.Name)
				log.FromContext(ctx).V(1).Info("delivered event to run", "run", run.Name)
			}
		}
	}
	return delivered, nil
}

// wantsEvent: a not-finished run, not triggered by this very event, that listens to its type.
func wantsEvent(run *v1alpha1.WorkflowRun, ev *v1alpha1.CloudEvent) bool {
	if run.Status.Phase.IsFinished() || run.Spec.Cancel {
		return false
	}
	if run.Spec.Event != nil && run.Spec.Event.Source == ev.Source && run.Spec.Event.ID == ev.ID {
		return false
	}
	return interested(run, ev)
}

// appendPending adds ev to run's pendingEvents with optimistic concurrency.
// It reports false when the run finished or stopped listening meanwhile.
func (r *Receiver) appendPending(ctx context.Context, run *v1alpha1.WorkflowRun, ev *v1alpha1.CloudEvent) (bool, error) {
	cur := run.DeepCopy()
	for range slotAttempts * 2 {
		for _, p := range cur.Status.PendingEvents {
			if p.Source == ev.Source && p.ID == ev.ID {
				return true, nil // a duplicate delivery: already pending
			}
		}
		if len(cur.Status.PendingEvents) >= maxPendingEvents {
			return false, fmt.Errorf("run %s already holds %d undelivered events; it is not consuming them", cur.Name, maxPendingEvents)
		}
		cur.Status.PendingEvents = append(cur.Status.PendingEvents, *ev.DeepCopy())
		err := r.client.Status().Update(ctx, cur)
		switch {
		case err == nil:
			return true, nil
		case apierrors.IsNotFound(err):
			return false, nil
		case !apierrors.IsConflict(err):
			return false, fmt.Errorf("deliver event to run %s: %w", cur.Name, err)
		}
		cur = &v1alpha1.WorkflowRun{}
		if err := r.live.Get(ctx, client.ObjectKeyFromObject(run), cur); err != nil {
			if apierrors.IsNotFound(err) {
				return false, nil
			}
			return false, fmt.Errorf("re-read run %s: %w", run.Name, err)
		}
		if !wantsEvent(cur, ev) {
			return false, nil
		}
	}
	return false, fmt.Errorf("run %s kept changing while delivering an event", run.Name)
}
