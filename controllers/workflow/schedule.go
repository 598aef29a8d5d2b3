package workflow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/controllers/enrollment"
	"github.com/crmflow/crmflow/controllers/index"
	"github.com/crmflow/crmflow/controllers/revision"
	"github.com/crmflow/crmflow/runner"
	"github.com/crmflow/crmflow/runner/schedule"
)

// parseSchedule parses a schedule trigger, naming the offending field.
func parseSchedule(s *v1alpha1.ScheduleTrigger) (*schedule.Schedule, error) {
	if _, err := schedule.LoadLocation(s.TimeZone); err != nil {
		return nil, fmt.Errorf("spec.trigger.schedule.timeZone: %w", err)
	}
	sched, err := schedule.Parse(s.Cron, s.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("spec.trigger.schedule.cron: %w", err)
	}
	return sched, nil
}

// scheduleEdited reports whether wf's schedule differs from the one in its
// previous revision prev: another cron expression or time zone, or no
// schedule trigger at all. A revision that is gone or unreadable counts as
// edited, which at worst passes over a tick instead of running one nobody
// scheduled.
func (r *Reconciler) scheduleEdited(ctx context.Context, wf *v1alpha1.Workflow, prev string) (bool, error) {
	old, err := r.Revisions.Spec(ctx, wf.Namespace, prev, wf.Name)
	if apierrors.IsNotFound(err) || errors.Is(err, revision.ErrInvalid) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("read previous revision %s of workflow %s: %w", prev, klog.KObj(wf), err)
	}
	was, is := old.Trigger.Schedule, wf.Spec.Trigger.Schedule
	return was == nil || strings.TrimSpace(was.Cron) != strings.TrimSpace(is.Cron) ||
		v1alpha1.TimeZoneOrDefault(was.TimeZone) != v1alpha1.TimeZoneOrDefault(is.TimeZone), nil
}

// reconcileSchedule acts on the cron ticks that passed since
// status.lastScheduleTime (or the workflow's creation): an Active workflow
// runs the latest one if it is within startingDeadlineSeconds and counts the
// others as MissedSchedule; a Paused or Draft one counts them all as skipped
// for that reason. The run is created before lastScheduleTime moves, and its
// name derives from the tick, so a crash in between, or a stale cache,
// re-creates nothing: the second Create meets AlreadyExists.
//
// An edited schedule (edited: another cron or time zone) counts from the
// pass that first sees it, which records that moment as lastScheduleTime:
// a tick of the new expression that passed before it existed was never
// missed, and running it at once (what a CronJob does, kubernetes#63371)
// would send a weekly digest on the day of the edit.
func (r *Reconciler) reconcileSchedule(ctx context.Context, wf *v1alpha1.Workflow, now time.Time, edited bool) (ctrl.Result, error) {
	trig := wf.Spec.Trigger.Schedule
	sched, err := parseSchedule(trig)
	if err != nil {
		return ctrl.Result{}, err // compile() already refused it; unreachable
	}
	last := wf.CreationTimestamp.Time
	if wf.Status.LastScheduleTime != nil {
		last = wf.Status.LastScheduleTime.Time
	}
	if since := now.Truncate(time.Second); edited && since.After(last) {
		last = since
		wf.Status.LastScheduleTime = &metav1.Time{Time: since}
	}
	plan := sched.PlanAt(last, now, trig.StartingDeadlineSeconds)

	if !plan.Acted.IsZero() {
		passed := plan.Missed
		if !plan.Run.IsZero() {
			passed++
		}
		switch wf.Spec.StateOrDefault() {
		case v1alpha1.WorkflowPaused:
			addSkip(wf, v1alpha1.SkipPaused, passed, now, fmt.Sprintf("cron tick %s: workflow is Paused", plan.Acted.Format(time.RFC3339)))
		case v1alpha1.WorkflowDraft:
			addSkip(wf, v1alpha1.SkipDraft, passed, now, fmt.Sprintf("cron tick %s: workflow is a Draft", plan.Acted.Format(time.RFC3339)))
		default:
			addSkip(wf, v1alpha1.SkipMissedSchedule, plan.Missed, now, missedMessage(plan, trig))
			if !plan.Run.IsZero() {
				if err := r.runTick(ctx, wf, plan.Run, now); err != nil {
					return ctrl.Result{}, err
				}
			}
		}
		wf.Status.LastScheduleTime = &metav1.Time{Time: plan.Acted}
	}

	if plan.Next.IsZero() {
		wf.Status.NextScheduleTime = nil
		return ctrl.Result{}, nil
	}
	wf.Status.NextScheduleTime = &metav1.Time{Time: plan.Next}
	return ctrl.Result{RequeueAfter: r.requeueAfter(plan.Next.Sub(now))}, nil
}

func missedMessage(plan schedule.Plan, trig *v1alpha1.ScheduleTrigger) string {
	if plan.Run.IsZero() {
		return fmt.Sprintf("cron tick %s missed by more than startingDeadlineSeconds=%d", plan.Acted.Format(time.RFC3339), ptr.Deref(trig.StartingDeadlineSeconds, 0))
	}
	return fmt.Sprintf("passed over earlier ticks; ran only the latest, %s", plan.Acted.Format(time.RFC3339))
}

// runTick creates the run of one tick (package enrollment builds it) unless
// the enrollment policy (runner.Admit, as intake applies it) refuses it over
// the subject's runs in the cache: a refusal (Forbid with a run active:
// ActiveRun) is counted as a skip; Replace cancels the active runs first.
// The run controller applies the policy again at the run's first pass.
func (r *Reconciler) runTick(ctx context.Context, wf *v1alpha1.Workflow, tick, now time.Time) error {
	rev, err := revision.Name(wf)
	if err != nil {
		return err
	}
	run := enrollment.ForTick(wf, rev, tick)
	var list v1alpha1.WorkflowRunList
	if err := r.List(ctx, &list, client.InNamespace(wf.Namespace),
		client.MatchingFields{index.RunByWorkflowSubject: index.WorkflowSubjectKey(wf.Name, run.Spec.Subject)}); err != nil {
		return fmt.Errorf("list runs of subject %q: %w", run.Spec.Subject, err)
	}
	// The tick's run is newer than every run that exists.
	self := runner.Candidate{Name: run.Name, Created: now.Add(time.Hour)}
	a := runner.Admit(wf.Spec.Enrollment, self, enrollment.Candidates(list.Items), run.Spec.Subject)
	switch a.Verdict {
	case runner.Skip:
		addSkip(wf, a.Reason, 1, tick, fmt.Sprintf("cron tick %s: %s", tick.Format(time.RFC3339), a.Message))
		return nil
	case runner.Replace:
		for _, name := range a.Replace {
			o := &v1alpha1.WorkflowRun{ObjectMeta: metav1.ObjectMeta{Namespace: wf.Namespace, Name: name}}
			if err := r.Patch(ctx, o, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"cancel":true}}`))); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("cancel run %s replaced by tick %s: %w", klog.KObj(o), tick.Format(time.RFC3339), err)
			}
		}
	}
	err = r.Create(ctx, run)
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create run for cron tick %s of workflow %s: %w", tick.Format(time.RFC3339), klog.KObj(wf), err)
	}
	if r.Metrics != nil {
		r.Metrics.ScheduledRuns.WithLabelValues(wf.Namespace, wf.Name).Inc()
	}
	r.event(wf, false, "Scheduled", fmt.Sprintf("created run %s for cron tick %s", run.Name, tick.Format(time.RFC3339)))
	return nil
}
