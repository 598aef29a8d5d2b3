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

// Step is one thing a run does. It has a unique name, an optional if guard
// (false: the step is Skipped) and exactly one action.
// +kubebuilder:validation:XValidation:rule="[has(self.updateContact), has(self.addTags), has(self.removeTags), has(self.addToSegment), has(self.removeFromSegment), has(self.assignContact), has(self.sendEmail), has(self.sendSMS), has(self.notify), has(self.createTask), has(self.createLead), has(self.updateLeadStatus), has(self.createTicket), has(self.assignTicket), has(self.callWebhook), has(self.updateExternalCRM), has(self.triggerZapier), has(self.wait), has(self.waitForEvent), has(self.branch), has(self.end)].filter(x, x).size() == 1",message="a step sets exactly one action (updateContact, addTags, removeTags, addToSegment, removeFromSegment, assignContact, sendEmail, sendSMS, notify, createTask, createLead, updateLeadStatus, createTicket, assignTicket, callWebhook, updateExternalCRM, triggerZapier, wait, waitForEvent, branch or end)"
type Step struct {
	// name identifies the step in status and in expressions
	// (steps["name"]); a DNS label, unique within the workflow.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// if is a CEL guard: when false the step is Skipped and the run moves on.
	// +optional
	If Expression `json:"if,omitempty"`

	// retry overrides the workflow's retry policy for this step.
	// +optional
	Retry *RetryPolicy `json:"retry,omitempty"`

	// timeout bounds one attempt of a side-effecting step (default 30s, at
	// most 5m: an attempt holds one of the run controller's workers for as
	// long as it lasts). Waits are wait and waitForEvent steps, not this.
	// +optional
	Timeout *Duration `json:"timeout,omitempty"`

	// continueOnError moves on to the next step when every attempt failed,
	// instead of failing the run. The step is still recorded as Failed.
	// +optional
	ContinueOnError bool `json:"continueOnError,omitempty"`

	// updateContact sets fields of a contact in the CRM.
	// +optional
	UpdateContact *UpdateContactAction `json:"updateContact,omitempty"`
	// addTags adds tags to a contact.
	// +optional
	AddTags *TagsAction `json:"addTags,omitempty"`
	// removeTags removes tags from a contact.
	// +optional
	RemoveTags *TagsAction `json:"removeTags,omitempty"`
	// addToSegment adds a contact to a segment (list).
	// +optional
	AddToSegment *SegmentAction `json:"addToSegment,omitempty"`
	// removeFromSegment removes a contact from a segment (list).
	// +optional
	RemoveFromSegment *SegmentAction `json:"removeFromSegment,omitempty"`
	// assignContact gives a contact an owner: a user or a pool/team.
	// +optional
	AssignContact *AssignAction `json:"assignContact,omitempty"`
	// sendEmail sends an email over SMTP (connections.smtp).
	// +optional
	SendEmail *SendEmailAction `json:"sendEmail,omitempty"`
	// sendSMS sends a text message through the SMS provider (connections.sms).
	// +optional
	SendSMS *SendSMSAction `json:"sendSMS,omitempty"`
	// notify posts an internal notification to a Slack-compatible incoming webhook.
	// +optional
	Notify *NotifyAction `json:"notify,omitempty"`
	// createTask creates a to-do for a person or team in the CRM.
	// +optional
	CreateTask *CreateTaskAction `json:"createTask,omitempty"`
	// createLead creates a lead in the CRM.
	// +optional
	CreateLead *CreateLeadAction `json:"createLead,omitempty"`
	// updateLeadStatus moves a lead to another status.
	// +optional
	UpdateLeadStatus *UpdateLeadStatusAction `json:"updateLeadStatus,omitempty"`
	// createTicket opens a support ticket in the CRM.
	// +optional
	CreateTicket *CreateTicketAction `json:"createTicket,omitempty"`
	// assignTicket gives a ticket an owner.
	// +optional
	AssignTicket *AssignTicketAction `json:"assignTicket,omitempty"`
	// callWebhook makes an HTTP request; its response becomes the step's output.
	// +optional
	CallWebhook *WebhookAction `json:"callWebhook,omitempty"`
	// updateExternalCRM writes fields of a record in another CRM over HTTP.
	// +optional
	UpdateExternalCRM *ExternalCRMAction `json:"updateExternalCRM,omitempty"`
	// triggerZapier posts JSON to a Zapier-style catch hook.
	// +optional
	TriggerZapier *ZapierAction `json:"triggerZapier,omitempty"`
	// wait pauses the run for a duration, until a time, or until business hours.
	// +optional
	Wait *WaitAction `json:"wait,omitempty"`
	// waitForEvent pauses the run until an event for its subject arrives, or a timeout.
	// The wait listens from the moment the step starts: an event that arrived
	// before (e.g. a reply during an earlier wait step) is not seen by it, and
	// the step times out with received false. To act on such an event, add an
	// exitWhen goal for its type (goals listen for the whole run), or start
	// listening earlier with a waitForEvent placed before the other steps.
	// +optional
	WaitForEvent *WaitForEventAction `json:"waitForEvent,omitempty"`
	// branch jumps to one step or another by a condition.
	// +optional
	Branch *BranchAction `json:"branch,omitempty"`
	// end finishes the run now, with a result and reason.
	// +optional
	End *EndAction `json:"end,omitempty"`
}

// UpdateContactAction sets contact fields. Sent to the CRM sink as command
// io.crmflow.contact.update.
type UpdateContactAction struct {
	// contactId is the contact to change. Default: the run's subject.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	ContactID Template `json:"contactId,omitempty"`

	// fields maps contact field names to templated values.
	// +required
	// +kubebuilder:validation:MinProperties=1
	// +kubebuilder:validation:MaxProperties=64
	Fields map[string]Template `json:"fields"`
}

// TagsAction adds or removes tags (commands io.crmflow.contact.tags.add / .remove).
type TagsAction struct {
	// contactId is the contact to change. Default: the run's subject.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	ContactID Template `json:"contactId,omitempty"`

	// tags to add or remove; each may be a template.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +listType=atomic
	// +kubebuilder:validation:items:MaxLength=256
	Tags []Template `json:"tags"`
}

// SegmentAction adds a contact to or removes it from a segment
// (commands io.crmflow.contact.segment.add / .remove).
type SegmentAction struct {
	// contactId is the contact to change. Default: the run's subject.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	ContactID Template `json:"contactId,omitempty"`

	// segment is the segment's id or name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Segment Template `json:"segment"`
}

// AssignAction gives a contact an owner (command io.crmflow.contact.assign).
// +kubebuilder:validation:XValidation:rule="has(self.user) || has(self.team)",message="assignContact needs user or team"
type AssignAction struct {
	// contactId is the contact to assign. Default: the run's subject.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	ContactID Template `json:"contactId,omitempty"`

	// user is the owner's id, or a pool the CRM resolves (e.g. "sales-rep-pool").
	// +optional
	// +kubebuilder:validation:MaxLength=256
	User Template `json:"user,omitempty"`

	// team is the owning team.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Team Template `json:"team,omitempty"`
}

// SendEmailAction sends one email over SMTP. Its Message-ID derives from the
// step's idempotency key, so a repeat is recognisable.
type SendEmailAction struct {
	// to is the recipient address (a template).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	To Template `json:"to"`

	// cc are further recipients.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	// +listType=atomic
	// +kubebuilder:validation:items:MaxLength=1024
	Cc []Template `json:"cc,omitempty"`

	// from overrides connections.smtp.from.
	// +optional
	// +kubebuilder:validation:MaxLength=320
	From Template `json:"from,omitempty"`

	// replyTo sets the Reply-To header.
	// +optional
	// +kubebuilder:validation:MaxLength=320
	ReplyTo Template `json:"replyTo,omitempty"`

	// subject line (a template).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=998
	Subject Template `json:"subject"`

	// body is the plain-text body (a template).
	// +required
	// +kubebuilder:validation:MinLength=1
	Body Template `json:"body"`

	// html is an optional HTML alternative of the body (a template).
	// +optional
	HTML Template `json:"html,omitempty"`
}

// SendSMSAction sends a text message through connections.sms.
type SendSMSAction struct {
	// to is the recipient's number, E.164 (a template).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	To Template `json:"to"`

	// body is the message text (a template).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1600
	Body Template `json:"body"`
}

// NotifyAction posts {"text": ..., "channel": ...} to a Slack-compatible incoming webhook.
type NotifyAction struct {
	// channel or team to notify, e.g. "vip-support" (a template).
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Channel Template `json:"channel,omitempty"`

	// message text (a template).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4000
	Message Template `json:"message"`

	// webhookURLSecretRef overrides connections.notify for this step.
	// +optional
	WebhookURLSecretRef *SecretKeySelector `json:"webhookURLSecretRef,omitempty"`
}

// CreateTaskAction creates a to-do in the CRM (command io.crmflow.task.create).
type CreateTaskAction struct {
	// title of the task (a template).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	Title Template `json:"title"`

	// description of the task (a template).
	// +optional
	// +kubebuilder:validation:MaxLength=8192
	Description Template `json:"description,omitempty"`

	// assignee is a user or team id (a template).
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Assignee Template `json:"assignee,omitempty"`

	// dueIn sets the due date this long after the step runs.
	// +optional
	DueIn *Duration `json:"dueIn,omitempty"`

	// contactId links the task to a contact. Default: the run's subject.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	ContactID Template `json:"contactId,omitempty"`
}

// CreateLeadAction creates a lead (command io.crmflow.lead.create).
type CreateLeadAction struct {
	// contactId the lead belongs to. Default: the run's subject.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	ContactID Template `json:"contactId,omitempty"`

	// source of the lead, e.g. "Website" (a template).
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Source Template `json:"source,omitempty"`

	// status the lead starts in, e.g. "New".
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Status Template `json:"status,omitempty"`

	// fields are further lead fields (templated values).
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	Fields map[string]Template `json:"fields,omitempty"`
}

// UpdateLeadStatusAction moves a lead (command io.crmflow.lead.status.update).
type UpdateLeadStatusAction struct {
	// leadId is the lead to move. Default: "{{ lead.id }}" of the triggering event.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	LeadID Template `json:"leadId,omitempty"`

	// status to move the lead to (a template).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Status Template `json:"status"`
}

// TicketPriority is the urgency of a ticket.
// +kubebuilder:validation:Enum=Low;Normal;High;Urgent
type TicketPriority string

// Ticket priorities.
const (
	PriorityLow    TicketPriority = "Low"
	PriorityNormal TicketPriority = "Normal"
	PriorityHigh   TicketPriority = "High"
	PriorityUrgent TicketPriority = "Urgent"
)

// CreateTicketAction opens a support ticket (command io.crmflow.ticket.create).
type CreateTicketAction struct {
	// contactId the ticket is about. Default: the run's subject.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	ContactID Template `json:"contactId,omitempty"`

	// title of the ticket (a template).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	Title Template `json:"title"`

	// description of the ticket (a template).
	// +optional
	// +kubebuilder:validation:MaxLength=8192
	Description Template `json:"description,omitempty"`

	// priority is Low, Normal (default), High or Urgent.
	// +optional
	// +kubebuilder:default=Normal
	Priority TicketPriority `json:"priority,omitempty"`

	// team that should handle the ticket.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Team Template `json:"team,omitempty"`
}

// AssignTicketAction gives a ticket an owner (command io.crmflow.ticket.assign).
// +kubebuilder:validation:XValidation:rule="has(self.user) || has(self.team)",message="assignTicket needs user or team"
type AssignTicketAction struct {
	// ticketId is the ticket. Default: "{{ ticket.id }}" of the triggering event.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	TicketID Template `json:"ticketId,omitempty"`

	// user to assign.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	User Template `json:"user,omitempty"`

	// team to assign.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Team Template `json:"team,omitempty"`
}

// HTTPMethod is an HTTP request method.
// +kubebuilder:validation:Enum=GET;POST;PUT;PATCH;DELETE
type HTTPMethod string

// HTTPHeader is a request header whose value is literal (a template) or read from a Secret.
// +kubebuilder:validation:XValidation:rule="has(self.value) != has(self.valueFrom)",message="a header sets exactly one of value or valueFrom"
type HTTPHeader struct {
	// name of the header.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9!#$%&'*+.^_|~-]+$`
	Name string `json:"name"`

	// value of the header (a template).
	// +optional
	// +kubebuilder:validation:MaxLength=8192
	Value Template `json:"value,omitempty"`

	// valueFrom reads the value from a Secret key in the workflow's namespace.
	// +optional
	ValueFrom *SecretKeySelector `json:"valueFrom,omitempty"`
}

// WebhookAction makes an HTTP request. The response status and a size-capped
// body become the step's output (steps["name"].output.status, .body).
// +kubebuilder:validation:XValidation:rule="has(self.url) != has(self.urlFrom)",message="callWebhook sets exactly one of url or urlFrom"
type WebhookAction struct {
	// url to call (a template).
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	URL Template `json:"url,omitempty"`

	// urlFrom reads the URL from a Secret key, for URLs that embed a credential;
	// messages then show only its scheme and host.
	// +optional
	URLFrom *SecretKeySelector `json:"urlFrom,omitempty"`

	// method of the request; default POST.
	// +optional
	// +kubebuilder:default=POST
	Method HTTPMethod `json:"method,omitempty"`

	// headers to send. crmflow always adds Idempotency-Key and, with a body,
	// Content-Type: application/json.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=32
	Headers []HTTPHeader `json:"headers,omitempty"`

	// body is a JSON document template; each {{ }} inside a JSON string is
	// rendered and escaped.
	// +optional
	Body Template `json:"body,omitempty"`

	// successCodes are the statuses that count as success. Default: any 2xx.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:Minimum=100
	// +kubebuilder:validation:items:Maximum=599
	SuccessCodes []int32 `json:"successCodes,omitempty"`
}

// ExternalCRMAction writes fields of a record in another CRM: it sends
// {"object","id","fields"} as JSON with the given method (default PATCH).
// +kubebuilder:validation:XValidation:rule="has(self.url) != has(self.urlFrom)",message="updateExternalCRM sets exactly one of url or urlFrom"
type ExternalCRMAction struct {
	// system names the external CRM for people and logs, e.g. "salesforce".
	// +optional
	// +kubebuilder:validation:MaxLength=64
	System string `json:"system,omitempty"`

	// url of the record endpoint (a template).
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	URL Template `json:"url,omitempty"`

	// urlFrom reads the URL from a Secret key; messages then show only its
	// scheme and host.
	// +optional
	URLFrom *SecretKeySelector `json:"urlFrom,omitempty"`

	// method of the request; default PATCH.
	// +optional
	// +kubebuilder:default=PATCH
	Method HTTPMethod `json:"method,omitempty"`

	// headers to send, e.g. an Authorization header from a Secret.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=32
	Headers []HTTPHeader `json:"headers,omitempty"`

	// object type in the external CRM, e.g. "Contact".
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	Object string `json:"object"`

	// recordId of the record to write (a template).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	RecordID Template `json:"recordId"`

	// fields to write (templated values).
	// +required
	// +kubebuilder:validation:MinProperties=1
	// +kubebuilder:validation:MaxProperties=64
	Fields map[string]Template `json:"fields"`
}

// ZapierAction posts a flat JSON object to a catch hook whose URL is a credential.
type ZapierAction struct {
	// hookURLSecretRef selects the Secret key holding the hook URL.
	// +required
	HookURLSecretRef SecretKeySelector `json:"hookURLSecretRef"`

	// data is the JSON object posted (templated values).
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	Data map[string]Template `json:"data,omitempty"`
}

// WaitAction pauses a run. Exactly one of duration, until or businessHours is set.
// +kubebuilder:validation:XValidation:rule="[has(self.duration), has(self.until), has(self.businessHours)].filter(x, x).size() == 1",message="wait sets exactly one of duration, until or businessHours"
type WaitAction struct {
	// duration to wait, e.g. "1h" or "2d".
	// +optional
	Duration *Duration `json:"duration,omitempty"`

	// until is a CEL expression yielding a timestamp to wait for; a time in
	// the past does not wait.
	// +optional
	Until Expression `json:"until,omitempty"`

	// businessHours waits until the window is open (no wait when it already is).
	// +optional
	BusinessHours *BusinessHours `json:"businessHours,omitempty"`
}

// WaitForEventAction pauses a run until an event of one of the types arrives
// for the run's subject, or the timeout passes. It listens only while the
// step runs: an event that arrived before the step started is not seen (an
// exitWhen goal listens for the whole run). Later steps read
// steps["name"].received, .timedOut and .event.
type WaitForEventAction struct {
	// types of event that end the wait.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	Types []EventType `json:"types"`

	// filter is a CEL expression over the arriving event that must hold as well.
	// +optional
	Filter Expression `json:"filter,omitempty"`

	// timeout ends the wait without an event; the step then succeeds with timedOut true.
	// +required
	Timeout Duration `json:"timeout"`
}

// BranchAction jumps: to then when if holds, else to else (default: the next step).
// The schema stays flat because CRD schemas cannot recurse.
type BranchAction struct {
	// if is the CEL condition.
	// +required
	If Expression `json:"if"`

	// then names the step to jump to when if holds.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Then string `json:"then"`

	// else names the step to jump to otherwise; default the next step.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Else string `json:"else,omitempty"`
}

// EndResult is how an end step finishes a run.
// +kubebuilder:validation:Enum=Succeeded;Failed
type EndResult string

// End results.
const (
	EndSucceeded EndResult = "Succeeded"
	EndFailed    EndResult = "Failed"
)

// EndAction finishes the run now.
type EndAction struct {
	// result is Succeeded (default) or Failed.
	// +optional
	// +kubebuilder:default=Succeeded
	Result EndResult `json:"result,omitempty"`

	// reason is a CamelCase word recorded on the run's Succeeded condition.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^([A-Z][A-Za-z0-9]*)?$`
	Reason string `json:"reason,omitempty"`

	// message for people (a template).
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Message Template `json:"message,omitempty"`
}
