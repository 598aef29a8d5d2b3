package intake

import (
	"context"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/controllers/index"
)

// reconcileDate brings a subject's pending date-triggered run in line with
// the date the event carries, before any new enrolment is considered:
//   - date cleared, or date+offset already passed: the pending run is deleted;
//   - date moved: the pending run's scheduledTime (and event) are updated;
//   - date unchanged: nothing to do (acknowledged).
//
// It reports done=false when there is no pending run and a new one may be
// enrolled. A run is pending while it has not started a step and its
// scheduled time is ahead; every write carries the resourceVersion read, so
// a run the run controller starts meanwhile is left alone (conflict → read
// again and decide again).
func (r *Receiver) reconcileDate(ctx context.Context, wf *v1alpha1.Workflow, subject string, ev *v1alpha1.CloudEvent, at time.Time, cleared bool, now time.Time) (verdict, bool, error) {
	passed := !cleared && at.Before(now)
	for range slotAttempts {
		pending, err := r.pendingDateRuns(ctx, wf, subject, now)
		if err != nil {
			return verdict{}, true, err
		}
		if len(pending) == 0 {
			if passed {
				return verdict{skip: v1alpha1.SkipDatePassed, message: fmt.Sprintf(
					"event %s: date plus offset %s is already past; nothing scheduled", ev.ID, at.UTC().Format(time.RFC3339))}, true, nil
			}
			if cleared {
				return verdict{}, true, nil // no date and nothing scheduled: nothing to do
			}
			return verdict{}, false, nil
		}
		run := pending[0]
		var v verdict
		switch {
		case cleared || passed:
			err = r.client.Delete(ctx, run, client.Preconditions{UID: &run.UID, ResourceVersion: &run.ResourceVersion})
			if err == nil {
				err = r.releaseSlot(ctx, wf, subject, run.Name)
			}
			why := "cleared"
			if passed {
				why = fmt.Sprintf("passed (%s)", at.UTC().Format(time.RFC3339))
			}
			log.FromContext(ctx).V(1).Info("dropped scheduled run: date "+why, "workflow", wf.Name, "run", run.Name)
			v = verdict{dropped: run.Name}
		case run.Spec.ScheduledTime.Time.Equal(at):
			return verdict{}, true, nil
		default:
			next := run.DeepCopy()
			t := metav1.NewTime(at)
			next.Spec.ScheduledTime = &t
			next.Spec.Event = ev.DeepCopy()
			err = r.client.Patch(ctx, next, client.MergeFromWithOptions(run, client.MergeFromWithOptimisticLock{}))
			log.FromContext(ctx).V(1).Info("rescheduled run", "workflow", wf.Name, "run", run.Name, "at", at)
			v = verdict{rescheduled: run.Name}
		}
		switch {
		case err == nil:
			return v, true, nil
		case apierrors.IsConflict(err) || apierrors.IsNotFound(err):
			continue // the run changed or started: decide again from a fresh read
		default:
			return verdict{}, true, fmt.Errorf("update scheduled run %s: %w", run.Name, err)
		}
	}
	return verdict{}, true, fmt.Errorf("scheduled run of subject %q kept changing; gave up after %d attempts", subject, slotAttempts)
}

// pendingDateRuns finds the subject's date-triggered runs of wf that have
// not started: the slot's holder, read live (the cache may not have a run
// created a moment ago), and any others the cache index knows. Each is
// re-read live so that a write carries a current resourceVersion.
func (r *Receiver) pendingDateRuns(ctx context.Context, wf *v1alpha1.Workflow, subject string, now time.Time) ([]*v1alpha1.WorkflowRun, error) {
	var runs v1alpha1.WorkflowRunList
	if err := r.client.List(ctx, &runs, client.InNamespace(wf.Namespace),
		client.MatchingFields{index.RunByWorkflowSubject: index.WorkflowSubjectKey(wf.Name, subject)}); err != nil {
		return nil, fmt.Errorf("list runs of subject %q: %w", subject, err)
	}
	candidates := map[string]bool{}
	lease := &coordinationv1.Lease{}
	err := r.live.Get(ctx, types.NamespacedName{Namespace: wf.Namespace, Name: slotName(wf.Name, subject)}, lease)
	switch {
	case err == nil && ptr.Deref(lease.Spec.HolderIdentity, "") != "":
		candidates[*lease.Spec.HolderIdentity] = true
	case err != nil && !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("read enrolment slot: %w", err)
	}
	for i := range runs.Items {
		cached := &runs.Items[i]
		if cached.Labels[v1alpha1.LabelTrigger] == triggerDateField && isPending(cached, now) {
			candidates[cached.Name] = true
		}
	}
	var out []*v1alpha1.WorkflowRun
	for name := range candidates {
		cached := &v1alpha1.WorkflowRun{ObjectMeta: metav1.ObjectMeta{Namespace: wf.Namespace, Name: name}}
		live := &v1alpha1.WorkflowRun{}
		if err := r.live.Get(ctx, client.ObjectKeyFromObject(cached), live); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return nil, fmt.Errorf("read run %s: %w", cached.Name, err)
		}
		if live.Labels[v1alpha1.LabelTrigger] == triggerDateField && isPending(live, now) {
			out = append(out, live)
		}
	}
	return out, nil
}

// isPending: not finished, not cancelled, no step started, scheduled ahead.
func isPending(run *v1alpha1.WorkflowRun, now time.Time) bool {
	return !run.Status.Phase.IsFinished() && !run.Spec.Cancel && len(run.Status.Steps) == 0 &&
		run.Spec.ScheduledTime != nil && run.Spec.ScheduledTime.After(now)
}
