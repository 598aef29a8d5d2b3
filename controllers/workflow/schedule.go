package workflow

import (
	"context"
	"fmt"
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

// reconcileSchedule acts on the cron ticks that passed since
// status.lastScheduleTime (or the workflow's creation): an Active workflow
// runs the latest one if it is within startingDeadlineSeconds and counts the
// others as MissedSchedule; a Paused or Draft one counts them all as skipped
// for that reason. The run is created before lastScheduleTime moves, and its
// name derives from the tick, so a crash in between, or a stale cache,
// re-creates nothing: the second Create meets AlreadyExists.
func (r *Reconciler) reconcileSchedule(ctx context.Context, wf *v1alpha1.Workflow, now time.Time) (ctrl.Result, error) {
	trig := wf.Spec.Trigger.Schedule
	sched, err := parseSchedule(trig)
	if err != nil {
		return ctrl.Result{}, err // compile() already refused it; unreachable
	}
	last := wf.CreationTimestamp.Time
	if wf.Status.LastScheduleTime != nil {
		last = wf.Status.LastScheduleTime.Time
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
