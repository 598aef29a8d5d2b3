package enrollment

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// TickEventType is the type of the synthetic event a schedule run carries.
const TickEventType = "io.crmflow.schedule.tick"

// Event is what an event contributes to the run it enrolls.
type Event struct {
	// Subject is whom the run is about, as the workflow's subject expression
	// computed it.
	Subject string
	// Event is the triggering event; the run keeps a copy.
	Event *v1alpha1.CloudEvent
	// Cause is the event's causal chain; empty for an event from outside crmflow.
	Cause v1alpha1.CausalChain
	// StartAt is when the run starts: an event trigger's delay, a dateField
	// trigger's date plus offset. Zero: at once.
	StartAt time.Time
}

// ForEvent builds the run an event enrolls in wf (an event trigger), on the
// workflow's revision rev. Its name derives from the event's source and id
// (EventRunName).
func ForEvent(wf *v1alpha1.Workflow, rev string, e Event) *v1alpha1.WorkflowRun {
	return fromEvent(wf, rev, v1alpha1.TriggerEvent, e)
}

// ForDate builds the run a dateField trigger schedules at e.StartAt for the
// date an event carried, on the workflow's revision rev. Its name derives from
// the event's source and id (EventRunName), like an event run's.
func ForDate(wf *v1alpha1.Workflow, rev string, e Event) *v1alpha1.WorkflowRun {
	return fromEvent(wf, rev, v1alpha1.TriggerDateField, e)
}

func fromEvent(wf *v1alpha1.Workflow, rev, trigger string, e Event) *v1alpha1.WorkflowRun {
	run := newRun(wf, rev, trigger, EventRunName(wf.Name, e.Event.Source, e.Event.ID), e.Subject, e.Event.DeepCopy(), e.StartAt)
	if e.Cause.Hops > 0 || len(e.Cause.Links) > 0 {
		run.Spec.Cause = e.Cause.DeepCopy()
	}
	return run
}

// ForTick builds the run of wf's cron tick on the workflow's revision rev:
// named after the tick (TickRunName), about the schedule's subject (the
// workflow's name when it names none), carrying a synthetic
// io.crmflow.schedule.tick event whose id is the tick.
func ForTick(wf *v1alpha1.Workflow, rev string, tick time.Time) *v1alpha1.WorkflowRun {
	tick = tick.UTC()
	subject := wf.Name
	if s := wf.Spec.Trigger.Schedule; s != nil && s.Subject != "" {
		subject = s.Subject
	}
	at := metav1.NewTime(tick)
	ev := &v1alpha1.CloudEvent{
		ID:      tick.Format(time.RFC3339),
		Source:  fmt.Sprintf("crmflow.io/%s/%s", wf.Namespace, wf.Name),
		Type:    TickEventType,
		Subject: subject,
		Time:    &at,
	}
	return newRun(wf, rev, v1alpha1.TriggerSchedule, TickRunName(wf.Name, tick), subject, ev, tick)
}

// newRun is the one shape of a new run: the labels every selector of runs
// relies on, the workflow as controlling owner (its runs go with it), and
// the revision the run starts on.
func newRun(wf *v1alpha1.Workflow, rev, trigger, name, subject string, ev *v1alpha1.CloudEvent, startAt time.Time) *v1alpha1.WorkflowRun {
	run := &v1alpha1.WorkflowRun{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: wf.Namespace,
			Labels: map[string]string{
				v1alpha1.LabelWorkflow:    v1alpha1.WorkflowLabelValue(wf.Name),
				v1alpha1.LabelSubjectHash: v1alpha1.SubjectHash(subject),
				v1alpha1.LabelTrigger:     trigger,
			},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(wf, v1alpha1.GroupVersion.WithKind("Workflow"))},
		},
		Spec: v1alpha1.WorkflowRunSpec{
			WorkflowName:       wf.Name,
			WorkflowRevision:   rev,
			WorkflowGeneration: wf.Generation,
			Subject:            subject,
			Event:              ev,
		},
	}
	if !startAt.IsZero() {
		t := metav1.NewTime(startAt)
		run.Spec.ScheduledTime = &t
	}
	return run
}
