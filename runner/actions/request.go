// Package actions performs crmflow's rendered side effects over real
// protocols: SMTP email, SMS over HTTP, Slack-compatible notifications,
// webhooks, Zapier-style hooks, external CRM writes and CloudEvents commands
// to the CRM sink. It knows nothing of CEL or templates: the engine hands it
// a Request whose every field is already rendered and whose secrets are
// already resolved.
package actions

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Kind names an action by the Step field that declares it.
type Kind string

// Action kinds, one per step action of the API that has a side effect.
const (
	KindUpdateContact     Kind = "updateContact"
	KindAddTags           Kind = "addTags"
	KindRemoveTags        Kind = "removeTags"
	KindAddToSegment      Kind = "addToSegment"
	KindRemoveFromSegment Kind = "removeFromSegment"
	KindAssignContact     Kind = "assignContact"
	KindSendEmail         Kind = "sendEmail"
	KindSendSMS           Kind = "sendSMS"
	KindNotify            Kind = "notify"
	KindCreateTask        Kind = "createTask"
	KindCreateLead        Kind = "createLead"
	KindUpdateLeadStatus  Kind = "updateLeadStatus"
	KindCreateTicket      Kind = "createTicket"
	KindAssignTicket      Kind = "assignTicket"
	KindCallWebhook       Kind = "callWebhook"
	KindUpdateExternalCRM Kind = "updateExternalCRM"
	KindTriggerZapier     Kind = "triggerZapier"
)

// CloudEvents types of the commands crmflow sends to the CRM sink, one per
// contact or CRM action. docs/commands.md documents each one's data.
const (
	CommandContactUpdate        = "io.crmflow.contact.update"
	CommandContactTagsAdd       = "io.crmflow.contact.tags.add"
	CommandContactTagsRemove    = "io.crmflow.contact.tags.remove"
	CommandContactSegmentAdd    = "io.crmflow.contact.segment.add"
	CommandContactSegmentRemove = "io.crmflow.contact.segment.remove"
	CommandContactAssign        = "io.crmflow.contact.assign"
	CommandTaskCreate           = "io.crmflow.task.create"
	CommandLeadCreate           = "io.crmflow.lead.create"
	CommandLeadStatusUpdate     = "io.crmflow.lead.status.update"
	CommandTicketCreate         = "io.crmflow.ticket.create"
	CommandTicketAssign         = "io.crmflow.ticket.assign"
)

// Origin identifies the run and step an action belongs to; it becomes the
// idempotency key and the loop-prevention metadata of outgoing events.
type Origin struct {
	Namespace string
	Workflow  string
	Run       string
	RunUID    string
	Step      string
	Subject   string
	// IdempotencyKey is the same for every attempt of a step: "<run UID>/<step>".
	IdempotencyKey string
	// Hops of the run's causal chain (the outgoing event carries Hops+1).
	Hops int32
	// Chain of "namespace/workflow/subject" links that caused the run, oldest first.
	Chain []string
}

// Request is one rendered action. Exactly one of the payload fields is set.
type Request struct {
	Kind   Kind
	Origin Origin
	// Timeout bounds the attempt; zero means 30s.
	Timeout time.Duration

	Email   *Email
	SMS     *SMS
	Notify  *Notification
	Command *Command
	HTTP    *HTTPCall
}

// Email is a message for an SMTP server.
type Email struct {
	Host     string
	Port     int
	TLS      string // StartTLS, TLS or None (v1alpha1.SMTPTLSMode)
	Username string // empty: no AUTH
	Password string
	From     string
	To       string
	Cc       []string
	ReplyTo  string
	Subject  string
	Body     string
	HTML     string
}

// SMS is a text message for an HTTP provider.
type SMS struct {
	URL    string
	Format string // JSON or Twilio (v1alpha1.SMSFormat)
	// Token is the bearer token of the JSON format.
	Token string
	// Username and Password are basic-auth credentials of the Twilio format.
	Username string
	Password string
	From     string
	To       string
	Body     string
}

// Notification is a Slack-compatible incoming-webhook message.
type Notification struct {
	WebhookURL string
	Channel    string
	Text       string
}

// Command is a contact or CRM command sent to the CRM sink as a CloudEvent
// (binary mode). Type is e.g. "io.crmflow.contact.update"; the event id is
// the idempotency key; the subject is the entity id.
type Command struct {
	SinkURL string
	Token   string // bearer token for the sink, optional
	Type    string
	Subject string
	Data    map[string]any
}

// HTTPCall is a webhook, external-CRM write or Zapier hook.
type HTTPCall struct {
	Method string
	URL    string
	// SecretURL marks a URL read from a Secret (urlFrom): a credential as a
	// whole, so messages show only its scheme and host, as for Zapier hooks.
	SecretURL bool
	Headers   map[string]string
	// Body is sent as application/json when non-empty.
	Body []byte
	// SuccessCodes count as success; empty means any 2xx.
	SuccessCodes []int
}

// Result is what a successful attempt produced.
type Result struct {
	// Message for the step's log, e.g. "sent to ann@example.com".
	Message string
	// Output is a small JSON-able object later steps read as steps["x"].output.
	Output map[string]any
}

// Executor performs one attempt of a request.
type Executor interface {
	Execute(ctx context.Context, req Request) (Result, error)
}

// Error classifies a failed attempt for the retry policy.
type Error struct {
	// Retryable is false for failures a repeat cannot fix (4xx other than 408/429, a bad address).
	Retryable bool
	// RetryAfter is the server's Retry-After, zero when it sent none.
	RetryAfter time.Duration
	// StatusCode of an HTTP answer, 0 otherwise.
	StatusCode int
	Err        error
}

func (e *Error) Error() string {
	if e.StatusCode != 0 {
		return fmt.Sprintf("status %d: %v", e.StatusCode, e.Err)
	}
	return e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// IsRetryable reports whether err may succeed on another attempt. Errors that
// are not an *Error (network failures, timeouts) are retryable.
func IsRetryable(err error) bool {
	var ae *Error
	if errors.As(err, &ae) {
		return ae.Retryable
	}
	return err != nil
}

// RetryAfter returns the server-requested delay carried by err, if any.
func RetryAfter(err error) time.Duration {
	var ae *Error
	if errors.As(err, &ae) {
		return ae.RetryAfter
	}
	return 0
}
