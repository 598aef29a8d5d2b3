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

// Every reason crmflow writes lives in this file: the reasons of conditions
// and of a run's result, the reasons a trigger is skipped, what a waiting run
// waits for, and the reasons of the Kubernetes Events that report none of
// these. One fact has one spelling: a trigger whose conditions do not hold
// is ConditionsNotMet both on the run and in the skip counters.
// TestReasonsAndDefaultsLiveInTheAPI keeps their literals out of the rest of
// the repository.

// ConditionReason is the CamelCase reason of a Workflow's or a WorkflowRun's
// condition, of a run's status.result, and of the Kubernetes Event that
// reports the change. metav1.Condition's reason is a plain string: convert
// with String() where a condition is written.
type ConditionReason string

// String returns the reason as metav1.Condition and Events spell it.
func (r ConditionReason) String() string { return string(r) }

// Reasons of a Workflow's conditions.
const (
	// ReasonCompileSucceeded: Ready is True, every expression and template compiled.
	ReasonCompileSucceeded ConditionReason = "Compiled"
	// ReasonCompileFailed: Ready is False; the message carries the compile error.
	ReasonCompileFailed ConditionReason = "CompileFailed"
	// ReasonInvalidSpec is the Stalled reason for a spec that does not validate.
	ReasonInvalidSpec ConditionReason = "InvalidSpec"
)

// Reasons of a run's conditions, its status.result and its Events.
const (
	// ReasonRunning: the run is in progress (Succeeded is Unknown).
	ReasonRunning ConditionReason = "Running"
	// ReasonWaiting: the run waits for a time.
	ReasonWaiting ConditionReason = "Waiting"
	// ReasonWaitingForEvent: the run waits for an event.
	ReasonWaitingForEvent ConditionReason = "WaitingForEvent"
	// ReasonRetrying: a step failed and is attempted again later.
	ReasonRetrying ConditionReason = "Retrying"
	// ReasonPaused: the workflow is Paused; the run holds at a step boundary.
	ReasonPaused ConditionReason = "WorkflowPaused"
	// ReasonCompleted: every step is done.
	ReasonCompleted ConditionReason = "Completed"
	// ReasonEnded: an end step without a reason of its own finished the run.
	ReasonEnded ConditionReason = "Ended"
	// ReasonGoalReached: an exitWhen goal ended the run early.
	ReasonGoalReached ConditionReason = "GoalReached"
	// ReasonStepFailed: a step failed for good.
	ReasonStepFailed ConditionReason = "StepFailed"
	// ReasonCancelled: spec.cancel was set.
	ReasonCancelled ConditionReason = "Cancelled"
	// ReasonReplaced: a newer run for the subject replaced this one (concurrency Replace).
	ReasonReplaced ConditionReason = "Replaced"
	// ReasonConditionsNotMet: the enrollment conditions did not hold, so the
	// run ends without acting (Enrolled is False). SkipConditionsNotMet is the
	// same fact in a workflow's skip counters.
	ReasonConditionsNotMet ConditionReason = "ConditionsNotMet"
	// ReasonConditionsMet: the enrollment conditions held (Enrolled is True).
	ReasonConditionsMet ConditionReason = "ConditionsMet"
	// ReasonInvalidWorkflow: the run's workflow revision is gone or does not compile.
	ReasonInvalidWorkflow ConditionReason = "InvalidWorkflow"
	// ReasonDryRun: a test run records what it would do instead of doing it.
	ReasonDryRun ConditionReason = "DryRun"
	// ReasonDuplicateEvent reports a repeated delivery of an event the run had
	// already consumed (same source and id); it is dropped without effect.
	ReasonDuplicateEvent ConditionReason = "DuplicateEvent"
	// ReasonWorkflowDeleted ends a run whose Workflow was deleted, or deleted
	// and created again under the same name: the run belonged to the old one
	// and acts no more (the garbage collector removes it with its owner).
	ReasonWorkflowDeleted ConditionReason = "WorkflowDeleted"
	// ReasonNotAdmitted ends a run the enrollment policy refused when the run
	// controller arbitrated (two events for one subject raced, or the event
	// was already archived); the message starts with the SkipReason.
	ReasonNotAdmitted ConditionReason = "NotAdmitted"
)

// SkipReason says why a trigger did not enroll, as counted in
// WorkflowStatus.SkippedEvents, answered by intake and kept by the run
// history store.
type SkipReason string

// String returns the reason as Events and the run history store spell it.
func (r SkipReason) String() string { return string(r) }

// Reasons a trigger is skipped.
const (
	// SkipConditionsNotMet: the workflow's conditions did not hold for the
	// event (the same fact as the run reason ReasonConditionsNotMet).
	SkipConditionsNotMet SkipReason = "ConditionsNotMet"
	// SkipPaused: the workflow is Paused.
	SkipPaused SkipReason = "Paused"
	// SkipDraft: the workflow is a Draft.
	SkipDraft SkipReason = "Draft"
	// SkipDuplicate: the event (source and id) already enrolled the subject.
	SkipDuplicate SkipReason = "Duplicate"
	// SkipAlreadyEnrolled: the subject was enrolled before and reenroll forbids another.
	SkipAlreadyEnrolled SkipReason = "AlreadyEnrolled"
	// SkipActiveRun: a run for the subject is active and concurrency is Forbid.
	SkipActiveRun SkipReason = "ActiveRun"
	// SkipLoopDetected: the event's causal chain already ran this workflow for this subject.
	SkipLoopDetected SkipReason = "LoopDetected"
	// SkipHopLimit: the event's causal chain is longer than the hop limit.
	SkipHopLimit SkipReason = "HopLimit"
	// SkipSubjectMissing: the subject expression gave no usable subject.
	SkipSubjectMissing SkipReason = "SubjectMissing"
	// SkipEvaluationError: an expression failed to evaluate, or the workflow does not compile.
	SkipEvaluationError SkipReason = "EvaluationError"
	// SkipMissedSchedule: a cron tick passed while nothing could run it.
	SkipMissedSchedule SkipReason = "MissedSchedule"
	// SkipDatePassed counts dateField events whose date plus offset is already
	// past, so nothing was scheduled.
	SkipDatePassed SkipReason = "DatePassed"
	// SkipStaleEvent: a dateField event older (by time, then id) than the
	// event that scheduled the subject's pending run; it never moves the date back.
	SkipStaleEvent SkipReason = "StaleEvent"
)

// WaitReason says what a waiting run waits for.
// +kubebuilder:validation:Enum=Duration;Until;BusinessHours;Event;Retry;Delay;Paused
type WaitReason string

// Wait reasons.
const (
	// WaitDuration: a wait step's duration.
	WaitDuration WaitReason = "Duration"
	// WaitUntil: a wait step's until time.
	WaitUntil WaitReason = "Until"
	// WaitBusinessHours: the next business-hours window.
	WaitBusinessHours WaitReason = "BusinessHours"
	// WaitEvent: a waitForEvent step's event, or its timeout.
	WaitEvent WaitReason = "Event"
	// WaitRetry: the next attempt of a failed step.
	WaitRetry WaitReason = "Retry"
	// WaitDelay: the run's scheduled start (trigger delay, date field).
	WaitDelay WaitReason = "Delay"
	// WaitPaused: the workflow is Paused; the run holds at a step boundary.
	WaitPaused WaitReason = "Paused"
)

// EventReason is the reason of a Kubernetes Event that reports neither a
// condition nor a skip.
type EventReason string

// String returns the reason as Events spell it.
func (r EventReason) String() string { return string(r) }

// Reasons of the Events that intake and the archiver record.
const (
	// ReasonUnusableCredential: a crmflow-intake Secret yields no usable
	// credential, so its namespace refuses every event until it is fixed.
	ReasonUnusableCredential EventReason = "UnusableCredential"
	// ReasonHistoryStoreUnavailable: a finished run is held in etcd because
	// the run history store cannot take it.
	ReasonHistoryStoreUnavailable EventReason = "HistoryStoreUnavailable"
)
