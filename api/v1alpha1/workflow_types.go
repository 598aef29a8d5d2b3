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
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// WorkflowState says whether a workflow enrolls anyone.
// +kubebuilder:validation:Enum=Active;Paused;Draft
type WorkflowState string

const (
	// WorkflowActive enrolls on every matching trigger.
	WorkflowActive WorkflowState = "Active"
	// WorkflowPaused enrolls no one (events are counted as skipped, reason
	// Paused); runs in flight hold at their next step boundary and continue on resume.
	WorkflowPaused WorkflowState = "Paused"
	// WorkflowDraft is never triggered; dry-run test runs still work.
	WorkflowDraft WorkflowState = "Draft"
)

// WorkflowSpec is what a workflow listens to, whom it enrolls and what it does:
// TRIGGER -> CONDITIONS -> STEPS.
// +kubebuilder:validation:XValidation:rule="self.steps.all(s, !has(s.branch) || self.steps.exists(t, t.name == s.branch.then))",message="branch.then must name a step of this workflow",fieldPath=".steps"
// +kubebuilder:validation:XValidation:rule="self.steps.all(s, !has(s.branch) || !has(s.branch.__else__) || self.steps.exists(t, t.name == s.branch.__else__))",message="branch.else must name a step of this workflow",fieldPath=".steps"
type WorkflowSpec struct {
	// description says, for people, what the workflow is for.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Description string `json:"description,omitempty"`

	// state is Active, Paused or Draft. A new workflow is a Draft: nothing
	// fires until it is activated.
	// +optional
	// +kubebuilder:default=Draft
	State WorkflowState `json:"state,omitempty"`

	// trigger says what starts an enrollment: exactly one of event, schedule or dateField.
	// +required
	Trigger Trigger `json:"trigger"`

	// conditions must all hold for a trigger to enroll. Each is a CEL
	// expression, a structured field rule or a business-hours window. They
	// are evaluated in order; a missing field makes a condition false.
	// +optional
	// +kubebuilder:validation:MaxItems=32
	Conditions []Condition `json:"conditions,omitempty"` //nolint:kubeapilinter // enrolment rules, not status conditions: the conditions linter wants metav1.Condition for any field of this name

	// subject is a CEL expression naming whom a run is about (usually a
	// contact id), e.g. "lead.contactId". Default: the event's subject
	// attribute. Enrollment policy, waitForEvent and exit goals are per subject.
	// +optional
	Subject Expression `json:"subject,omitempty"`

	// enrollment says whether a subject may be enrolled again and whether
	// several runs for one subject may be active at once.
	// +optional
	Enrollment EnrollmentPolicy `json:"enrollment,omitempty"`

	// exitWhen lists goals: an event for a run's subject that meets one ends
	// the run early (phase Succeeded, reason GoalReached).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	ExitWhen []ExitGoal `json:"exitWhen,omitempty"`

	// steps run in order; branch and end change the order. Names are unique.
	// +required
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	Steps []Step `json:"steps"`

	// retry is the default retry policy of every side-effecting step; a
	// step's own retry overrides it.
	// +optional
	Retry *RetryPolicy `json:"retry,omitempty"`

	// connections tell the actions where to deliver (SMTP server, SMS
	// provider, CRM sink, notification hook) and which Secrets of this
	// namespace hold the credentials.
	// +optional
	Connections *Connections `json:"connections,omitempty"`

	// history bounds how long finished runs are kept.
	// +optional
	History HistoryPolicy `json:"history,omitempty"`
}

// Trigger starts enrollments. Exactly one of its fields is set.
// +kubebuilder:validation:XValidation:rule="[has(self.event), has(self.schedule), has(self.dateField)].filter(x, x).size() == 1",message="exactly one of trigger.event, trigger.schedule or trigger.dateField must be set"
type Trigger struct {
	// event enrolls on CloudEvents of the listed types.
	// +optional
	Event *EventTrigger `json:"event,omitempty"`

	// schedule enrolls on the ticks of a cron schedule.
	// +optional
	Schedule *ScheduleTrigger `json:"schedule,omitempty"`

	// dateField schedules a run at a date carried by events (e.g.
	// contact.renewalDate) plus an offset.
	// +optional
	DateField *DateFieldTrigger `json:"dateField,omitempty"`
}

// EventType is a CloudEvents type such as "lead.created" (see docs/events.md
// for the catalogue); custom types are allowed.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=256
// +kubebuilder:validation:Pattern=`^[A-Za-z0-9][A-Za-z0-9._:/-]*$`
type EventType string

// EventTrigger enrolls on CloudEvents.
type EventTrigger struct {
	// types are the CloudEvents types that trigger the workflow.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	Types []EventType `json:"types"`

	// source must equal the event's source attribute, when set.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Source string `json:"source,omitempty"`

	// delay postpones the first step: the run is created at once (so nothing
	// is lost) and starts after this long.
	// +optional
	Delay *Duration `json:"delay,omitempty"`
}

// ConcurrencyPolicy is what a schedule tick does when the previous tick's run is still active.
// Shared with EnrollmentPolicy.Concurrency.
// +kubebuilder:validation:Enum=Allow;Forbid;Replace
type ConcurrencyPolicy string

const (
	// ConcurrencyAllow lets several runs for one subject be active at once.
	ConcurrencyAllow ConcurrencyPolicy = "Allow"
	// ConcurrencyForbid skips an enrollment while a run for the subject is active.
	ConcurrencyForbid ConcurrencyPolicy = "Forbid"
	// ConcurrencyReplace cancels the active run and enrolls anew.
	ConcurrencyReplace ConcurrencyPolicy = "Replace"
)

// ScheduleTrigger enrolls on cron ticks.
type ScheduleTrigger struct {
	// cron is a five-field cron expression ("0 9 * * Mon-Fri") or a
	// descriptor such as "@daily".
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	Cron string `json:"cron"`

	// timeZone is the IANA time zone the cron expression is read in.
	// +optional
	// +kubebuilder:default=UTC
	// +kubebuilder:validation:MaxLength=64
	TimeZone string `json:"timeZone,omitempty"`

	// startingDeadlineSeconds bounds how late a tick may run: one missed (the
	// manager was down) by more than this is skipped and counted, as with CronJob. Unset: a missed tick
	// is run as long as it is the latest one.
	// +optional
	// +kubebuilder:validation:Minimum=0
	StartingDeadlineSeconds *int64 `json:"startingDeadlineSeconds,omitempty"`

	// subject of every scheduled run. Default: the workflow's name.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Subject string `json:"subject,omitempty"`
}

// DateFieldTrigger runs at a date that events carry.
type DateFieldTrigger struct {
	// types are the CloudEvents types that carry (or change, or clear) the date.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	Types []EventType `json:"types"`

	// field is a CEL expression giving the date: a timestamp, or a string in
	// RFC 3339 or YYYY-MM-DD form, e.g. "contact.renewalDate". A missing, null
	// or empty value clears the date and drops the scheduled run.
	// +required
	Field Expression `json:"field"`

	// offset moves the run relative to the date; "-72h" is three days before.
	// +optional
	Offset SignedDuration `json:"offset,omitempty"`

	// timeZone reads YYYY-MM-DD dates as midnight in this IANA zone.
	// +optional
	// +kubebuilder:default=UTC
	// +kubebuilder:validation:MaxLength=64
	TimeZone string `json:"timeZone,omitempty"`
}

// ConditionOperator compares a field with a value.
// +kubebuilder:validation:Enum=Equals;NotEquals;Contains;NotContains;In;NotIn;Exists;NotExists;GreaterThan;LessThan;Matches;Before;After
type ConditionOperator string

// Structured condition operators.
const (
	OperatorEquals      ConditionOperator = "Equals"
	OperatorNotEquals   ConditionOperator = "NotEquals"
	OperatorContains    ConditionOperator = "Contains"
	OperatorNotContains ConditionOperator = "NotContains"
	OperatorIn          ConditionOperator = "In"
	OperatorNotIn       ConditionOperator = "NotIn"
	OperatorExists      ConditionOperator = "Exists"
	OperatorNotExists   ConditionOperator = "NotExists"
	OperatorGreaterThan ConditionOperator = "GreaterThan"
	OperatorLessThan    ConditionOperator = "LessThan"
	OperatorMatches     ConditionOperator = "Matches"
	OperatorBefore      ConditionOperator = "Before"
	OperatorAfter       ConditionOperator = "After"
)

// Condition is one test that must hold for an enrollment. Exactly one of
// expression, field (with operator) or businessHours is set.
// +kubebuilder:validation:XValidation:rule="[has(self.expression), has(self.field), has(self.businessHours)].filter(x, x).size() == 1",message="a condition sets exactly one of expression, field or businessHours"
// +kubebuilder:validation:XValidation:rule="has(self.field) == has(self.operator)",message="field and operator go together"
type Condition struct {
	// name labels the condition in the run's status; default its position.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name,omitempty"`

	// expression is a CEL expression that must yield a bool.
	// +optional
	Expression Expression `json:"expression,omitempty"`

	// field is a dotted path into the event, e.g. "lead.source" or
	// "conversation.sentiment.score".
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`
	Field string `json:"field,omitempty"`

	// operator compares field with value.
	// +optional
	Operator ConditionOperator `json:"operator,omitempty"`

	// value is what field is compared with: a string, number or bool; a list
	// for In and NotIn; a regular expression for Matches; an RFC 3339
	// timestamp for Before and After.
	// +optional
	Value *apiextensionsv1.JSON `json:"value,omitempty"`

	// businessHours holds when the trigger arrives inside this window.
	// +optional
	BusinessHours *BusinessHours `json:"businessHours,omitempty"`
}

// ReenrollPolicy says when a subject may be enrolled again.
// +kubebuilder:validation:Enum=Never;AfterExit;Always
type ReenrollPolicy string

const (
	// ReenrollNever enrolls a subject at most once (finished runs still count
	// while they are kept in history).
	ReenrollNever ReenrollPolicy = "Never"
	// ReenrollAfterExit enrolls a subject again once its earlier run finished.
	ReenrollAfterExit ReenrollPolicy = "AfterExit"
	// ReenrollAlways enrolls on every matching trigger (subject to concurrency).
	ReenrollAlways ReenrollPolicy = "Always"
)

// EnrollmentPolicy governs enrollments per subject.
type EnrollmentPolicy struct {
	// reenroll is Never, AfterExit or Always.
	// +optional
	// +kubebuilder:default=AfterExit
	Reenroll ReenrollPolicy `json:"reenroll,omitempty"`

	// concurrency is Forbid (skip while a run for the subject is active),
	// Allow, or Replace (cancel the active run, enroll anew).
	// +optional
	// +kubebuilder:default=Forbid
	Concurrency ConcurrencyPolicy `json:"concurrency,omitempty"`
}

// ExitGoal ends a run early when a matching event arrives for its subject.
type ExitGoal struct {
	// name labels the goal in the run's status.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name,omitempty"`

	// types are the CloudEvents types that may meet the goal.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	Types []EventType `json:"types"`

	// if is a CEL expression over the arriving event that must hold as well.
	// +optional
	If Expression `json:"if,omitempty"`
}

// HistoryPolicy bounds how many finished runs are kept and for how long.
type HistoryPolicy struct {
	// limit keeps at most this many finished runs of the workflow, the newest.
	// +optional
	// +kubebuilder:default=50
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10000
	Limit *int32 `json:"limit,omitempty"`

	// ttlAfterFinished removes a finished run this long after it finished.
	// +optional
	// +kubebuilder:default="168h"
	TTLAfterFinished *Duration `json:"ttlAfterFinished,omitempty"`
}

// SMTPTLSMode is how the SMTP connection is secured.
// +kubebuilder:validation:Enum=StartTLS;TLS;None
type SMTPTLSMode string

const (
	// SMTPStartTLS upgrades a plain connection with STARTTLS and refuses to send without it.
	SMTPStartTLS SMTPTLSMode = "StartTLS"
	// SMTPTLS connects with TLS from the first byte (port 465).
	SMTPTLS SMTPTLSMode = "TLS"
	// SMTPNone sends in the clear: for a relay on the same host or in tests only.
	SMTPNone SMTPTLSMode = "None"
)

// SMSFormat is the request shape of the SMS provider.
// +kubebuilder:validation:Enum=JSON;Twilio
type SMSFormat string

const (
	// SMSFormatJSON posts {"from","to","body"} as JSON with a bearer token.
	SMSFormatJSON SMSFormat = "JSON"
	// SMSFormatTwilio posts From, To and Body form-encoded with basic auth, as Twilio's Messages API takes them.
	SMSFormatTwilio SMSFormat = "Twilio"
)

// Connections say where actions deliver and which Secrets hold credentials.
type Connections struct {
	// smtp is the mail server sendEmail uses.
	// +optional
	SMTP *SMTPConnection `json:"smtp,omitempty"`

	// sms is the provider sendSMS uses.
	// +optional
	SMS *SMSConnection `json:"sms,omitempty"`

	// crm is where contact and CRM commands go as CloudEvents. Default: the
	// manager's --crm-sink-url.
	// +optional
	CRM *CRMConnection `json:"crm,omitempty"`

	// notify is the Slack-compatible incoming webhook notify posts to unless a step names its own.
	// +optional
	Notify *NotifyConnection `json:"notify,omitempty"`
}

// SMTPConnection is a mail server.
type SMTPConnection struct {
	// host name or address of the SMTP server.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Host string `json:"host"`

	// port of the SMTP server.
	// +optional
	// +kubebuilder:default=587
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port,omitempty"`

	// tls is StartTLS (default), TLS or None.
	// +optional
	// +kubebuilder:default=StartTLS
	TLS SMTPTLSMode `json:"tls,omitempty"`

	// from is the default sender, e.g. "Sales <sales@example.com>".
	// +required
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=320
	From string `json:"from"`

	// credentialsSecretRef names a Secret with keys "username" and
	// "password" for SMTP AUTH. Unset: no authentication.
	// +optional
	CredentialsSecretRef *SecretReference `json:"credentialsSecretRef,omitempty"`
}

// SMSConnection is an SMS provider reached over HTTP.
type SMSConnection struct {
	// url the message is posted to, e.g. Twilio's
	// https://api.twilio.com/2010-04-01/Accounts/<sid>/Messages.json.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://`
	URL string `json:"url"`

	// format is JSON (default) or Twilio; docs/actions.md shows both requests.
	// +optional
	// +kubebuilder:default=JSON
	Format SMSFormat `json:"format,omitempty"`

	// from is the sender number or id.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	From string `json:"from,omitempty"`

	// credentialsSecretRef names a Secret: key "token" (JSON: bearer token),
	// or keys "username" and "password" (Twilio: account SID and auth token).
	// +optional
	CredentialsSecretRef *SecretReference `json:"credentialsSecretRef,omitempty"`
}

// CRMConnection is the sink that receives crmflow's commands as CloudEvents.
type CRMConnection struct {
	// sinkURL receives the commands (HTTP binary mode). Default: the manager's --crm-sink-url.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://`
	SinkURL string `json:"sinkURL,omitempty"`

	// credentialsSecretRef names a Secret whose key "token" is sent as a bearer token.
	// +optional
	CredentialsSecretRef *SecretReference `json:"credentialsSecretRef,omitempty"`
}

// NotifyConnection is a Slack-compatible incoming webhook.
type NotifyConnection struct {
	// webhookURLSecretRef selects the Secret key holding the webhook URL
	// (such URLs are credentials).
	// +required
	WebhookURLSecretRef SecretKeySelector `json:"webhookURLSecretRef"`
}

// Condition types of a Workflow (their reasons are in reasons.go).
const (
	// WorkflowReady is True when the spec compiled: every expression and
	// template type-checked. Its message carries the compile error otherwise.
	WorkflowReady = "Ready"
	// WorkflowStalled is True while the spec is invalid: nothing fires until
	// it is fixed, and retrying cannot help (kstatus). observedGeneration
	// stays at the last generation that was valid.
	WorkflowStalled = "Stalled"
)

// RunCounts counts a workflow's runs by phase, as the cache sees them now.
type RunCounts struct {
	// active runs now: Pending, Running or Waiting.
	// +optional
	Active int32 `json:"active"`
	// succeeded counts runs that succeeded since the workflow was created
	// (test runs excluded), added a few seconds after they finish.
	// +optional
	Succeeded int32 `json:"succeeded"`
	// failed counts runs that failed since the workflow was created.
	// +optional
	Failed int32 `json:"failed"`
	// cancelled counts runs cancelled since the workflow was created,
	// including runs the enrollment policy refused when two events raced.
	// +optional
	Cancelled int32 `json:"cancelled"`
}

// DateRunCounts counts changes to scheduled dateField runs.
type DateRunCounts struct {
	// rescheduled counts pending runs moved because an event carried a new date.
	// +optional
	Rescheduled int64 `json:"rescheduled,omitempty"`
	// dropped counts pending runs deleted because the date was cleared or already passed.
	// +optional
	Dropped int64 `json:"dropped,omitempty"`
	// lastTime a pending run was rescheduled or dropped.
	// +optional
	LastTime *metav1.Time `json:"lastTime,omitempty"`
}

// SkipCount counts triggers that did not enroll, for one reason.
type SkipCount struct {
	// reason is why the trigger was skipped: ConditionsNotMet, Paused, Draft,
	// Duplicate, AlreadyEnrolled, ActiveRun, LoopDetected, HopLimit,
	// SubjectMissing, EvaluationError, MissedSchedule, DatePassed or StaleEvent.
	// +required
	// +kubebuilder:validation:MaxLength=64
	Reason SkipReason `json:"reason"`

	// count of skipped triggers for this reason since the workflow was created.
	// +required
	Count int64 `json:"count"`

	// lastTime a trigger was skipped for this reason.
	// +optional
	LastTime *metav1.Time `json:"lastTime,omitempty"`

	// lastMessage explains the latest skip, e.g. which condition was false for which event id.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	LastMessage string `json:"lastMessage,omitempty"`
}

// WorkflowStatus is what the controller observed of a workflow.
type WorkflowStatus struct {
	// conditions hold Ready, which says whether the spec compiled.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the spec generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// currentRevision is the ControllerRevision (apps/v1, owned by this
	// Workflow) holding the current spec; new runs reference it. Revisions
	// that unfinished runs reference are kept, and a few more for rollback.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	CurrentRevision string `json:"currentRevision,omitempty"`

	// runs counts the workflow's runs by phase.
	// +optional
	Runs RunCounts `json:"runs,omitempty"`

	// skippedEvents counts triggers that did not enroll, by reason: the answer to "why didn't it fire?".
	// +optional
	// +listType=map
	// +listMapKey=reason
	// +kubebuilder:validation:MaxItems=32
	SkippedEvents []SkipCount `json:"skippedEvents,omitempty"`

	// dateRuns counts what later events did to runs a dateField trigger
	// scheduled: moved to a new date, or dropped (the date was cleared or passed).
	// +optional
	DateRuns *DateRunCounts `json:"dateRuns,omitempty"`

	// lastTriggeredTime is when the workflow last enrolled someone.
	// +optional
	LastTriggeredTime *metav1.Time `json:"lastTriggeredTime,omitempty"`

	// lastScheduleTime is the latest cron tick that was acted on (run or skipped),
	// or when an edited cron expression or time zone took effect.
	// +optional
	LastScheduleTime *metav1.Time `json:"lastScheduleTime,omitempty"`

	// nextScheduleTime is the next cron tick, for schedule triggers.
	// +optional
	NextScheduleTime *metav1.Time `json:"nextScheduleTime,omitempty"`
}

// Workflow turns CRM events into automated work: a trigger, conditions that
// decide whether to enroll, and steps that act. Each enrollment is a WorkflowRun.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=crmwf,categories=crmflow
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.spec.state`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Active",type=integer,JSONPath=`.status.runs.active`
// +kubebuilder:printcolumn:name="Succeeded",type=integer,JSONPath=`.status.runs.succeeded`,priority=1
// +kubebuilder:printcolumn:name="Failed",type=integer,JSONPath=`.status.runs.failed`,priority=1
// +kubebuilder:printcolumn:name="Last Triggered",type=date,JSONPath=`.status.lastTriggeredTime`
// +kubebuilder:printcolumn:name="Revision",type=string,JSONPath=`.status.currentRevision`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Workflow struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the workflow's trigger, conditions and steps.
	// +required
	Spec WorkflowSpec `json:"spec"`

	// status is what the controller observed.
	// +optional
	Status WorkflowStatus `json:"status,omitempty"`
}

// WorkflowList is a list of Workflows.
// +kubebuilder:object:root=true
type WorkflowList struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the workflows.
	Items []Workflow `json:"items"`
}
