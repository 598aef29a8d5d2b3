package history

import (
	"encoding/json"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// RecordFromRun builds the stored record of a finished run. It reads only
// the run's metadata (uid, names, creation time), spec.workflowName,
// spec.workflowRevision (else status.workflowRevision),
// spec.workflowGeneration, spec.subject, spec.event, spec.scheduledTime and
// its status (phase, conditions, condition results, steps, result, message,
// times); the trigger event is kept only when its JSON fits DefaultMaxEventBytes.
func RecordFromRun(run *v1alpha1.WorkflowRun) Run {
	r := Run{
		UID:                string(run.UID),
		Namespace:          run.Namespace,
		Name:               run.Name,
		Workflow:           run.Spec.WorkflowName,
		WorkflowRevision:   run.Spec.WorkflowRevision,
		WorkflowGeneration: run.Spec.WorkflowGeneration,
		Subject:            run.Spec.Subject,
		ScheduledTime:      timePtr(run.Spec.ScheduledTime),
		Conditions:         run.Status.ConditionResults,
		StatusConditions:   run.Status.Conditions,
		Steps:              run.Status.Steps,
		Phase:              string(run.Status.Phase),
		Result:             run.Status.Result.String(),
		Message:            run.Status.Message,
		Created:            run.CreationTimestamp.UTC(),
		Finished:           run.CreationTimestamp.UTC(),
	}
	if r.WorkflowRevision == "" {
		// A test run that named no revision records the one it ran.
		r.WorkflowRevision = run.Status.WorkflowRevision
	}
	if t := run.Status.StartTime; t != nil {
		r.Started = t.UTC()
	}
	if t := run.Status.CompletionTime; t != nil {
		r.Finished = t.UTC()
	}
	if ev := run.Spec.Event; ev != nil {
		r.EventSource, r.EventID, r.EventType = ev.Source, ev.ID, ev.Type
		if b, err := json.Marshal(ev); err == nil && len(b) <= DefaultMaxEventBytes {
			r.Event = b
		} else {
			r.EventTruncated = true
		}
	}
	return r
}

// ToWorkflowRun rebuilds the WorkflowRun a record was made from, as far as the
// record keeps it, so a stored run prints the way it printed live.
func (r *Run) ToWorkflowRun() *v1alpha1.WorkflowRun {
	run := &v1alpha1.WorkflowRun{
		ObjectMeta: metav1.ObjectMeta{
			Name: r.Name, Namespace: r.Namespace,
			CreationTimestamp: metav1.NewTime(r.Created),
			Labels:            map[string]string{v1alpha1.LabelWorkflow: r.Workflow},
		},
		Spec: v1alpha1.WorkflowRunSpec{
			WorkflowName:       r.Workflow,
			WorkflowRevision:   r.WorkflowRevision,
			WorkflowGeneration: r.WorkflowGeneration,
			Subject:            r.Subject,
		},
		Status: v1alpha1.WorkflowRunStatus{
			Phase:            v1alpha1.RunPhase(r.Phase),
			WorkflowRevision: r.WorkflowRevision,
			ConditionResults: r.Conditions,
			Conditions:       r.StatusConditions,
			Steps:            r.Steps,
			Result:           v1alpha1.ConditionReason(r.Result),
			Message:          r.Message,
			CompletionTime:   metaTime(r.Finished),
			StartTime:        metaTime(r.Started),
		},
	}
	run.UID = typesUID(r.UID)
	if r.ScheduledTime != nil {
		run.Spec.ScheduledTime = metaTime(*r.ScheduledTime)
	}
	if len(r.Event) > 0 {
		var ev v1alpha1.CloudEvent
		if json.Unmarshal(r.Event, &ev) == nil {
			run.Spec.Event = &ev
		}
	}
	if run.Spec.Event == nil && r.EventID != "" {
		run.Spec.Event = &v1alpha1.CloudEvent{ID: r.EventID, Source: r.EventSource, Type: r.EventType}
	}
	return run
}

func timePtr(t *metav1.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func metaTime(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	m := metav1.NewTime(t)
	return &m
}

func typesUID(s string) types.UID { return types.UID(s) }
