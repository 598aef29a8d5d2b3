package workflow

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/controllers/index"
	"github.com/crmflow/crmflow/controllers/revision"
	"github.com/crmflow/crmflow/runner/schedule"
)

// ScheduleTickEventType is the type of the synthetic event a scheduled run carries.
const ScheduleTickEventType = "io.crmflow.schedule.tick"

// TriggerSchedule is the crmflow.io/trigger label value of scheduled runs.
const TriggerSchedule = "schedule"

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
func (r *WorkflowReconciler) reconcileSchedule(ctx context.Context, wf *v1alpha1.Workflow, now time.Time) (ctrl.Result, error) {
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
		switch wf.Spec.State {
		case v1alpha1.WorkflowPaused:
			addSkip(wf, v1alpha1.SkipPaused, passed, now, fmt.Sprintf("cron tick %s: workflow is Paused", plan.Acted.Format(time.RFC3339)))
		case v1alpha1.WorkflowDraft, "":
			addSkip(wf, v1alpha1.SkipDraft, passed, now, fmt.Sprintf("cron tick %s: workflow is a Draft", plan.Acted.Format(time.RFC3339)))
		default:
			addSkip(wf, v1alpha1.SkipMissedSchedule, plan.Missed, now, missedMessage(plan, trig))
			if !plan.Run.IsZero() {
				if err := r.runTick(ctx, wf, plan.Run); err != nil {
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

// runTick creates the run of one tick, honouring enrollment.concurrency for
// the schedule's subject: Forbid skips the tick while a run is active (reason
// ActiveRun), Replace cancels the active runs first, Allow just creates.
func (r *WorkflowReconciler) runTick(ctx context.Context, wf *v1alpha1.Workflow, tick time.Time) error {
	run, err := ScheduledRun(wf, tick)
	if err != nil {
		return err
	}
	var list v1alpha1.WorkflowRunList
	if err := r.List(ctx, &list, client.InNamespace(wf.Namespace),
		client.MatchingFields{index.RunByWorkflowSubject: index.WorkflowSubjectKey(wf.Name, run.Spec.Subject)}); err != nil {
		return fmt.Errorf("list runs of subject %q: %w", run.Spec.Subject, err)
	}
	var active []*v1alpha1.WorkflowRun
	for i := range list.Items {
		o := &list.Items[i]
		if o.Name != run.Name && index.Active(o) {
			active = append(active, o)
		}
	}
	switch wf.Spec.Enrollment.Concurrency {
	case v1alpha1.ConcurrencyAllow:
	case v1alpha1.ConcurrencyReplace:
		for _, o := range active {
			base := o.DeepCopy()
			o.Spec.Cancel = true
			if err := r.Patch(ctx, o, client.MergeFrom(base)); client.IgnoreNotFound(err) != nil {
				return fmt.Errorf("cancel run %s replaced by tick %s: %w", klog.KObj(o), tick.Format(time.RFC3339), err)
			}
		}
	default: // Forbid, the API default
		if len(active) > 0 {
			addSkip(wf, v1alpha1.SkipActiveRun, 1, tick, fmt.Sprintf("cron tick %s: run %s for %q is still active", tick.Format(time.RFC3339), active[0].Name, run.Spec.Subject))
			return nil
		}
	}
	if err := ctrl.SetControllerReference(wf, run, r.Scheme()); err != nil {
		return fmt.Errorf("own scheduled run %s: %w", run.Name, err)
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

// ScheduledRun builds (without owner reference) the run of wf for a cron
// tick: a deterministic name, the workflow's labels, a snapshot of its spec,
// the schedule's subject and a synthetic io.crmflow.schedule.tick event.
func ScheduledRun(wf *v1alpha1.Workflow, tick time.Time) (*v1alpha1.WorkflowRun, error) {
	tick = tick.UTC()
	subject := wf.Spec.Trigger.Schedule.Subject
	if subject == "" {
		subject = wf.Name
	}
	rev, err := revision.Name(wf)
	if err != nil {
		return nil, err
	}
	at := metav1.NewTime(tick)
	return &v1alpha1.WorkflowRun{
		ObjectMeta: metav1.ObjectMeta{
			Name:      ScheduledRunName(wf.Name, tick),
			Namespace: wf.Namespace,
			Labels: map[string]string{
				v1alpha1.LabelWorkflow:    v1alpha1.WorkflowLabelValue(wf.Name),
				v1alpha1.LabelSubjectHash: v1alpha1.SubjectHash(subject),
				v1alpha1.LabelTrigger:     TriggerSchedule,
			},
		},
		Spec: v1alpha1.WorkflowRunSpec{
			WorkflowName:       wf.Name,
			WorkflowRevision:   rev,
			WorkflowGeneration: wf.Generation,
			Subject:            subject,
			ScheduledTime:      &at,
			Event: &v1alpha1.CloudEvent{
				ID:      tick.Format(time.RFC3339),
				Source:  fmt.Sprintf("crmflow.io/%s/%s", wf.Namespace, wf.Name),
				Type:    ScheduleTickEventType,
				Subject: subject,
				Time:    &at,
			},
		},
	}, nil
}

// ScheduledRunName is "<workflow>-<tick in Unix seconds>", like a CronJob's
// Jobs; a workflow name too long to leave room is shortened and made unique
// with a hash of the full name.
func ScheduledRunName(workflow string, tick time.Time) string {
	suffix := "-" + strconv.FormatInt(tick.Unix(), 10)
	max := validation.DNS1123SubdomainMaxLength - len(suffix)
	if len(workflow) > max {
		sum := sha256.Sum256([]byte(workflow))
		h := hex.EncodeToString(sum[:])[:8]
		workflow = workflow[:max-len(h)-1] + "-" + h
	}
	return workflow + suffix
}
