/*
Copyright 2026 The crmflow Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package v1alpha1

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// CausalChain records which runs led to an event, so loops can be cut off.
// Outgoing commands carry it as the CloudEvents extensions crmflowhops and
// crmflowchain; intake copies it from the triggering event into the run.
type CausalChain struct {
	// hops counts how many crmflow actions led to the triggering event (0: it came from outside).
	// +optional
	// +kubebuilder:validation:Minimum=0
	Hops int32 `json:"hops,omitempty"`

	// links are the causing runs, oldest first, each "namespace/workflow/subject".
	// +optional
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +kubebuilder:validation:items:MaxLength=1024
	Links []string `json:"links,omitempty"`
}

// Loop-prevention CloudEvents extension attributes set on every outgoing event.
const (
	// ExtensionHops carries CausalChain.Hops+1 of the sending run.
	ExtensionHops = "crmflowhops"
	// ExtensionChain carries the links, comma-separated, the sending run's last.
	ExtensionChain = "crmflowchain"
	// ExtensionRun names the sending run, "namespace/name".
	ExtensionRun = "crmflowrun"
	// ExtensionWorkflow names the sending workflow, "namespace/name".
	ExtensionWorkflow = "crmflowworkflow"
)

// WorkflowRunSpec is one enrollment: which revision of the workflow it runs,
// and the event that started it.
// +kubebuilder:validation:XValidation:rule="has(self.workflowRevision) == has(oldSelf.workflowRevision) && has(self.workflow) == has(oldSelf.workflow)",message="workflowRevision and workflow are immutable"
type WorkflowRunSpec struct {
	// workflowName is the Workflow (same namespace) this run belongs to.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="workflowName is immutable"
	WorkflowName string `json:"workflowName"`

	// workflowRevision names the apps/v1 ControllerRevision (same namespace,
	// owned by the Workflow, named "<workflow>-<hash of its spec>") that holds
	// the workflow spec this run started on. Edits to the Workflow create a
	// new revision and never change a run in flight. Intake and schedules set
	// it; a run that names neither workflowRevision nor workflow (a test run
	// on a live Workflow) runs the Workflow's current revision, recorded in
	// status.workflowRevision.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="workflowRevision is immutable"
	WorkflowRevision string `json:"workflowRevision,omitempty"`

	// workflowGeneration is the workflow's metadata.generation the revision was taken from.
	// +optional
	WorkflowGeneration int64 `json:"workflowGeneration,omitempty"`

	// workflow is an inline workflow spec, for test runs of a workflow that
	// is not in the cluster (kubectl crmflow test, the console); a run that
	// sets it must set dryRun: true. Runs that intake and schedules create
	// reference a revision instead of copying it.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="the workflow snapshot is immutable"
	Workflow *WorkflowSpec `json:"workflow,omitempty"`

	// subject is whom the run is about, usually a contact id.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="subject is immutable"
	Subject string `json:"subject,omitempty"`

	// event is the triggering CloudEvent (attributes and data, size-capped).
	// Schedule runs carry a synthetic event of type io.crmflow.schedule.tick.
	// +optional
	Event *CloudEvent `json:"event,omitempty"`

	// scheduledTime is when the run should start: the cron tick, the date
	// plus offset, or the event time plus delay.
	// +optional
	ScheduledTime *metav1.Time `json:"scheduledTime,omitempty"`

	// cause records the chain of runs that led to the triggering event.
	// +optional
	Cause *CausalChain `json:"cause,omitempty"`

	// dryRun evaluates every condition and renders every action without
	// sending anything; waits are recorded ("would wait 1h") and skipped.
	// +optional
	DryRun bool `json:"dryRun,omitempty"`

	// simulatedEvents resolve waitForEvent steps of a dry run, in order;
	// without one a wait resolves as a timeout.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	SimulatedEvents []CloudEvent `json:"simulatedEvents,omitempty"`

	// cancel stops the run at once; set it with kubectl patch. The run ends Cancelled.
	// +optional
	Cancel bool `json:"cancel,omitempty"`

	// inbox holds events delivered to this run after it started: replies a
	// waitForEvent step may take and events an exit goal may meet. Intake
	// appends to it, and drops entries from its front once the run consumed
	// them (counting them in inboxDropped); the run controller consumes each
	// entry once (status.inboxConsumed). Events can also be delivered by hand
	// with kubectl patch.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	Inbox []CloudEvent `json:"inbox,omitempty"`

	// inboxDropped counts the consumed entries intake removed from the front
	// of inbox, so that inbox[status.inboxConsumed - inboxDropped:] are the
	// entries not consumed yet.
	// +optional
	// +kubebuilder:validation:Minimum=0
	InboxDropped int64 `json:"inboxDropped,omitempty"`
}

// RunPhase is a convenience summary of a run; conditions carry the detail.
// +kubebuilder:validation:Enum=Pending;Running;Waiting;Succeeded;Failed;Cancelled
type RunPhase string

// Run phases.
const (
	RunPending   RunPhase = "Pending"
	RunRunning   RunPhase = "Running"
	RunWaiting   RunPhase = "Waiting"
	RunSucceeded RunPhase = "Succeeded"
	RunFailed    RunPhase = "Failed"
	RunCancelled RunPhase = "Cancelled"
)

// RemoveAfterFormat is the layout of status.removeAfter: a UTC second.
const RemoveAfterFormat = time.RFC3339

// removeAfterMinuteFormat is the layout runs written before removeAfter had
// seconds carry; ParseRemoveAfter still reads it.
const removeAfterMinuteFormat = "2006-01-02T15:04Z"

// RemoveAfterSlot is the granularity of status.removeAfter: finished runs
// leave etcd in slots this long, one collection delete per namespace and
// slot.
const RemoveAfterSlot = 10 * time.Second

// RemoveAfterValue is the status.removeAfter value of the slot that holds
// t, rounded up, so a run never leaves before its retention ends.
func RemoveAfterValue(t time.Time) string {
	t = t.UTC()
	if r := t.Truncate(RemoveAfterSlot); !r.Equal(t) {
		t = r.Add(RemoveAfterSlot)
	}
	return t.Format(RemoveAfterFormat)
}

// ParseRemoveAfter reads a status.removeAfter value, also one written as a
// minute ("2006-01-02T15:04Z") by an earlier crmflow.
func ParseRemoveAfter(s string) (time.Time, error) {
	t, err := time.Parse(RemoveAfterFormat, s)
	if err != nil {
		if m, merr := time.Parse(removeAfterMinuteFormat, s); merr == nil {
			return m, nil
		}
		return time.Time{}, fmt.Errorf("removeAfter %q is not a UTC time: %w", s, err)
	}
	return t, nil
}

// IsFinished reports whether the phase is terminal.
func (p RunPhase) IsFinished() bool {
	return p == RunSucceeded || p == RunFailed || p == RunCancelled
}

// StepPhase is where one step stands.
// +kubebuilder:validation:Enum=Pending;Running;Waiting;Succeeded;Failed;Skipped
type StepPhase string

// Step phases.
const (
	StepPending   StepPhase = "Pending"
	StepRunning   StepPhase = "Running"
	StepWaiting   StepPhase = "Waiting"
	StepSucceeded StepPhase = "Succeeded"
	StepFailed    StepPhase = "Failed"
	StepSkipped   StepPhase = "Skipped"
)

// Condition types of a WorkflowRun.
const (
	// RunSucceededCondition is True when the run succeeded, False when it
	// failed or was cancelled, Unknown while it runs; kubectl wait --for=condition=Succeeded.
	RunSucceededCondition = "Succeeded"
	// RunEnrolledCondition is True when the enrollment conditions held.
	RunEnrolledCondition = "Enrolled"
)

// ConditionResult is how one enrollment condition evaluated.
type ConditionResult struct {
	// name of the condition (its name, or its position "conditions[i]").
	// +required
	// +kubebuilder:validation:MaxLength=128
	Name string `json:"name"`

	// expression as evaluated (a structured condition is shown in CEL).
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	Expression string `json:"expression,omitempty"`

	// result of the condition.
	// +required
	Result bool `json:"result"`

	// message explains a false or failed result, e.g. "no such key: lead.source".
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message,omitempty"`
}

// WaitingFor says what a waiting run waits for.
type WaitingFor struct {
	// reason is Duration, Until, BusinessHours, Event, Retry, Delay or Paused.
	// +required
	Reason WaitReason `json:"reason"`

	// eventTypes the run waits for (waitForEvent and exit goals not included).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=256
	EventTypes []string `json:"eventTypes,omitempty"`

	// message for people, e.g. "message.received for contact c-42, timeout at ...".
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message,omitempty"`
}

// StepStatus is one line of a run's execution log.
type StepStatus struct {
	// name of the step.
	// +required
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`

	// phase of the step.
	// +required
	Phase StepPhase `json:"phase"`

	// startTime is when the step began (its first attempt, or its wait).
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// finishTime is when the step ended.
	// +optional
	FinishTime *metav1.Time `json:"finishTime,omitempty"`

	// attempts made so far.
	// +optional
	Attempts int32 `json:"attempts,omitempty"`

	// nextAttemptTime is when a failed attempt will be retried.
	// +optional
	NextAttemptTime *metav1.Time `json:"nextAttemptTime,omitempty"`

	// visit counts the times the run has entered this step: 1 the first
	// time, one more each time a branch loops back to it. Each visit is a
	// new side effect with its own idempotency key; the attempts of one
	// visit share it.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Visit int32 `json:"visit,omitempty"`

	// idempotencyKey is sent with every attempt of this visit:
	// "<run UID>/<step>" on the first visit, "<run UID>/<step>/<visit>" on
	// later ones.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	IdempotencyKey string `json:"idempotencyKey,omitempty"`

	// consumedEvents are the events (source and id) that ended this step's
	// waitForEvent on earlier visits, newest last, so that a repeated
	// delivery of one of them is not consumed again by a later visit.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	ConsumedEvents []EventReference `json:"consumedEvents,omitempty"`

	// message says what happened, e.g. "sent to ann@example.com", "would wait 1h",
	// "condition false: skipped", or the last error.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	Message string `json:"message,omitempty"`

	// output is a small JSON object later steps read as steps["name"].output:
	// a webhook's status and body, the event that ended a waitForEvent.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	Output *runtime.RawExtension `json:"output,omitempty"`
}

// EventReference names a CloudEvent: its id is unique per source.
type EventReference struct {
	// source of the event.
	// +required
	// +kubebuilder:validation:MaxLength=1024
	Source string `json:"source"`

	// id of the event.
	// +required
	// +kubebuilder:validation:MaxLength=256
	ID string `json:"id"`
}

// WorkflowRunStatus is the run's execution log.
type WorkflowRunStatus struct {
	// conditions are Succeeded (kubectl wait --for=condition=Succeeded) and Enrolled.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the run's generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// phase summarises the run: Pending, Running, Waiting, Succeeded, Failed or Cancelled.
	// +optional
	Phase RunPhase `json:"phase,omitempty"`

	// conditionResults are the enrollment conditions and how each evaluated.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	ConditionResults []ConditionResult `json:"conditionResults,omitempty"`

	// startTime is when the run first advanced.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// completionTime is when the run finished.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`

	// removeAfter is the time (UTC, "2006-01-02T15:04:05Z", rounded up to
	// 10 seconds) after which the finished run leaves etcd: its completion
	// plus the workflow's history.ttlAfterFinished, or plus the archive grace
	// when finished runs are archived to the run history store. Runs are
	// removed 10 seconds' worth at a time, with one collection delete
	// selecting this field.
	// +optional
	// +kubebuilder:validation:MaxLength=32
	RemoveAfter string `json:"removeAfter,omitempty"`

	// currentStep is the step the run is at (empty once finished).
	// +optional
	// +kubebuilder:validation:MaxLength=63
	CurrentStep string `json:"currentStep,omitempty"`

	// wakeAt is when a waiting run next advances; the controller requeues for
	// it, so waits survive restarts.
	// +optional
	WakeAt *metav1.Time `json:"wakeAt,omitempty"`

	// waitingFor says what the run waits for.
	// +optional
	WaitingFor *WaitingFor `json:"waitingFor,omitempty"`

	// steps is the execution log, one entry per step reached, in the order reached.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=64
	Steps []StepStatus `json:"steps,omitempty"`

	// workflowRevision is the ControllerRevision the run executes: spec.workflowRevision,
	// or the Workflow's current revision for a test run that named none.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	WorkflowRevision string `json:"workflowRevision,omitempty"`

	// inboxConsumed counts the spec.inbox entries the run has consumed since
	// it started (spec.inboxDropped of them may have left the inbox).
	// +optional
	// +kubebuilder:validation:Minimum=0
	InboxConsumed int64 `json:"inboxConsumed,omitempty"`

	// result is the reason the run finished (Completed, Ended, GoalReached, StepFailed, Cancelled, …).
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Result ConditionReason `json:"result,omitempty"`

	// message for people about the outcome.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	Message string `json:"message,omitempty"`
}

// WorkflowRun is one enrollment of a subject in a Workflow, advanced step by
// step by the controller. Its status reads as an execution log.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=crmrun,categories=crmflow
// +kubebuilder:selectablefield:JSONPath=".spec.workflowName"
// +kubebuilder:selectablefield:JSONPath=".status.phase"
// +kubebuilder:selectablefield:JSONPath=".status.removeAfter"
// +kubebuilder:printcolumn:name="Workflow",type=string,JSONPath=`.spec.workflowName`
// +kubebuilder:printcolumn:name="Subject",type=string,JSONPath=`.spec.subject`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Step",type=string,JSONPath=`.status.currentStep`
// +kubebuilder:printcolumn:name="Result",type=string,JSONPath=`.status.result`
// +kubebuilder:printcolumn:name="Wake At",type=date,JSONPath=`.status.wakeAt`,priority=1
// +kubebuilder:printcolumn:name="Revision",type=string,JSONPath=`.spec.workflowRevision`,priority=1
// +kubebuilder:printcolumn:name="Dry Run",type=boolean,JSONPath=`.spec.dryRun`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type WorkflowRun struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec and status are atomic for server-side field tracking: the
	// receiver creates the spec and appends to its inbox, the run controller
	// is the status's only writer, and nothing applies parts of either. So
	// the API server keeps one managedFields entry for each instead of one per
	// step, condition and data field, which it would otherwise store, cache
	// and recompute on every write (about half of a finished run's bytes).

	// spec is the enrollment: the workflow revision and the triggering event.
	// +required
	// +structType=atomic
	Spec WorkflowRunSpec `json:"spec"`

	// status is the execution log.
	// +optional
	// +structType=atomic
	Status WorkflowRunStatus `json:"status,omitempty"`
}

// WorkflowRunList is a list of WorkflowRuns.
// +kubebuilder:object:root=true
type WorkflowRunList struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the runs.
	Items []WorkflowRun `json:"items"`
}
