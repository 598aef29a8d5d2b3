package intake

import (
	"context"
	"fmt"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/controllers/index"
)

// reconcileDate brings a subject's pending date-triggered run in line with
// the date the event carries, before any new enrollment is considered:
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
	if held, name, err := r.latestDateEvent(ctx, wf, subject); err != nil {
		return verdict{}, true, err
	} else if olderThan(ev, held) {
		return verdict{skip: v1alpha1.SkipStaleEvent, message: fmt.Sprintf(
			"event %s is older than event %s that run %s holds; a redelivered or late event never moves the date back",
			ev.ID, held.ID, name)}, true, nil
	}
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
			// The dropped run is cancelled, not deleted, and keeps the event
			// that dropped it: its name still answers a redelivery of the
			// event that scheduled it, its event a stale date event (above),
			// and once archived the run history answers for it.
			why := "cleared"
			if passed {
				why = fmt.Sprintf("passed (%s)", at.UTC().Format(time.RFC3339))
			}
			next := run.DeepCopy()
			next.Spec.Cancel = true
			next.Spec.Event = ev.DeepCopy()
			if next.Annotations == nil {
				next.Annotations = map[string]string{}
			}
			next.Annotations[v1alpha1.AnnotationCancelReason] = dropReason(wf, ev, cleared, at)
			err = r.client.Patch(ctx, next, client.MergeFromWithOptions(run, client.MergeFromWithOptimisticLock{}))
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

// dropReason says why a pending date run was dropped, for its result
// message: "date contact.renewalDate cleared by event u-3 from crm".
func dropReason(wf *v1alpha1.Workflow, ev *v1alpha1.CloudEvent, cleared bool, at time.Time) string {
	field := "the date"
	if t := wf.Spec.Trigger.DateField; t != nil {
		field = "date " + string(t.Field)
	}
	if cleared {
		return fmt.Sprintf("%s cleared by event %s from %s; the scheduled run is dropped", field, ev.ID, ev.Source)
	}
	return fmt.Sprintf("%s moved by event %s from %s to a start time already past (%s); the scheduled run is dropped",
		field, ev.ID, ev.Source, at.UTC().Format(time.RFC3339))
}

// pendingDateRuns finds the subject's date-triggered runs of wf that have
// not started, from the cache index of the subject's runs and the runs this
// receiver created too recently for the cache to show, each re-read live so
// that a write carries a current resourceVersion.
func (r *Receiver) pendingDateRuns(ctx context.Context, wf *v1alpha1.Workflow, subject string, now time.Time) ([]*v1alpha1.WorkflowRun, error) {
	var runs v1alpha1.WorkflowRunList
	if err := r.client.List(ctx, &runs, client.InNamespace(wf.Namespace),
		client.MatchingFields{index.RunByWorkflowSubject: index.WorkflowSubjectKey(wf.Name, subject)}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("list runs of subject %q: %w", subject, err)
	}
	candidates := r.recent.names(recentKey(wf.Namespace, wf.Name, subject), now)
	for i := range runs.Items {
		cached := &runs.Items[i]
		if cached.Labels[v1alpha1.LabelTrigger] == v1alpha1.TriggerDateField && !cached.Status.Phase.IsFinished() && !slices.Contains(candidates, cached.Name) {
			candidates = append(candidates, cached.Name)
		}
	}
	var out []*v1alpha1.WorkflowRun
	for _, name := range candidates {
		cached := &v1alpha1.WorkflowRun{}
		cached.Namespace, cached.Name = wf.Namespace, name
		live := &v1alpha1.WorkflowRun{}
		if err := r.live.Get(ctx, client.ObjectKeyFromObject(cached), live); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return nil, fmt.Errorf("read run %s: %w", cached.Name, err)
		}
		if live.Labels[v1alpha1.LabelTrigger] == v1alpha1.TriggerDateField && isPending(live, now) && ownedBy(live, wf) {
			out = append(out, live)
		}
	}
	return out, nil
}

// latestDateEvent is the newest event (by time, then id) any date run of the
// subject holds, pending, dropped or finished, with that run's name: the
// subject's latest known date for as long as the run stays in etcd. Runs
// not finished are read live.
func (r *Receiver) latestDateEvent(ctx context.Context, wf *v1alpha1.Workflow, subject string) (*v1alpha1.CloudEvent, string, error) {
	var runs v1alpha1.WorkflowRunList
	if err := r.client.List(ctx, &runs, client.InNamespace(wf.Namespace),
		client.MatchingFields{index.RunByWorkflowSubject: index.WorkflowSubjectKey(wf.Name, subject)}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, "", fmt.Errorf("list runs of subject %q: %w", subject, err)
	}
	var latest *v1alpha1.CloudEvent
	name := ""
	for i := range runs.Items {
		run := &runs.Items[i]
		if run.Labels[v1alpha1.LabelTrigger] != v1alpha1.TriggerDateField || !ownedBy(run, wf) {
			continue
		}
		if !run.Status.Phase.IsFinished() { // the cache may not show the latest event it holds yet
			fresh, err := r.readLive(ctx, run)
			if err != nil {
				return nil, "", err
			}
			if fresh == nil {
				continue
			}
			run = fresh
		}
		if run.Spec.Event == nil {
			continue
		}
		if latest == nil || olderThan(latest, run.Spec.Event) {
			latest, name = run.Spec.Event.DeepCopy(), run.Name
		}
	}
	return latest, name, nil
}

// olderThan orders date events by time, then id: an event sent before the
// one a pending run holds (a redelivery, or a late retry) is stale. Events
// without a time are never stale.
func olderThan(ev, held *v1alpha1.CloudEvent) bool {
	if held == nil || ev.Time == nil || held.Time == nil {
		return false
	}
	// Stored times keep whole seconds: compare at that precision.
	a, b := ev.Time.Truncate(time.Second), held.Time.Truncate(time.Second)
	if !a.Equal(b) {
		return a.Before(b)
	}
	return ev.Source == held.Source && ev.ID < held.ID
}

// slotAttempts bounds the optimistic retries of one decision.
const slotAttempts = 5

// isPending: not finished, not cancelled, no step started, scheduled ahead.
func isPending(run *v1alpha1.WorkflowRun, now time.Time) bool {
	return !run.Status.Phase.IsFinished() && !run.Spec.Cancel && len(run.Status.Steps) == 0 &&
		run.Spec.ScheduledTime != nil && run.Spec.ScheduledTime.After(now)
}
