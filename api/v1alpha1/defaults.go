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

// The defaults of a Workflow's spec: the one place that names them. Every
// reader of a spec applies them through WorkflowSpec.Default or one of the
// Defaulted methods below (the admission webhook, the Workflow and
// WorkflowRun controllers, intake and the engine), so an object reads the
// same whether the API server's structural defaulting, the webhook or
// nobody filled a field. The +kubebuilder:default markers on the fields
// carry the same values, since a marker cannot name a Go constant;
// TestCRDDefaultsMatchDefault keeps the two equal.
const (
	// DefaultState is spec.state when unset: nothing fires until activated.
	DefaultState = WorkflowDraft
	// DefaultReenroll is enrollment.reenroll when unset.
	DefaultReenroll = ReenrollAfterExit
	// DefaultConcurrency is enrollment.concurrency when unset.
	DefaultConcurrency = ConcurrencyForbid
	// DefaultRetryAttempts is retry.attempts when unset.
	DefaultRetryAttempts int32 = 5
	// DefaultInitialBackoff is retry.initialBackoff when unset.
	DefaultInitialBackoff Duration = "1s"
	// DefaultMaxBackoff is retry.maxBackoff when unset.
	DefaultMaxBackoff Duration = "5m"
	// DefaultHistoryLimit is history.limit when unset.
	DefaultHistoryLimit int32 = 50
	// DefaultTTLAfterFinished is history.ttlAfterFinished when unset.
	DefaultTTLAfterFinished Duration = "168h"
	// DefaultTimeZone is the timeZone of a schedule, a dateField trigger or
	// business hours when unset.
	DefaultTimeZone = "UTC"
	// DefaultSMTPPort is connections.smtp.port when unset.
	DefaultSMTPPort int32 = 587
	// DefaultSMTPTLS is connections.smtp.tls when unset.
	DefaultSMTPTLS = SMTPStartTLS
	// DefaultSMSFormat is connections.sms.format when unset.
	DefaultSMSFormat = SMSFormatJSON
	// DefaultWebhookMethod is callWebhook.method when unset.
	DefaultWebhookMethod HTTPMethod = "POST"
	// DefaultExternalCRMMethod is updateExternalCRM.method when unset.
	DefaultExternalCRMMethod HTTPMethod = "PATCH"
	// DefaultTicketPriority is createTicket.priority when unset.
	DefaultTicketPriority = PriorityNormal
	// DefaultEndResult is end.result when unset.
	DefaultEndResult = EndSucceeded
)

// DefaultBusinessDays returns the days of business hours that name none,
// Monday to Friday, as a new slice the caller may keep.
func DefaultBusinessDays() []Weekday {
	return []Weekday{Monday, Tuesday, Wednesday, Thursday, Friday}
}

// Default fills every unset field of the spec that has a default. It is
// idempotent and never overwrites a value the user set. A step's own retry
// policy inherits the unset fields from the workflow's, so that a partial
// override such as {attempts: 2} keeps the workflow's backoff.
func (s *WorkflowSpec) Default() {
	s.State = s.StateOrDefault()
	s.Enrollment = s.Enrollment.Defaulted()
	s.History = s.History.Defaulted()
	if s.Retry == nil {
		s.Retry = &RetryPolicy{}
	}
	*s.Retry = s.Retry.Defaulted()
	s.Trigger.defaultTimeZones()
	for i := range s.Conditions {
		s.Conditions[i].BusinessHours.defaultFields()
	}
	s.Connections.defaultFields()
	for i := range s.Steps {
		s.Steps[i].defaultFields(s.Retry)
	}
}

// StateOrDefault returns spec.state, or DefaultState when it is unset.
func (s *WorkflowSpec) StateOrDefault() WorkflowState {
	if s.State == "" {
		return DefaultState
	}
	return s.State
}

// Defaulted returns the policy with the API defaults filled in.
func (p EnrollmentPolicy) Defaulted() EnrollmentPolicy {
	if p.Reenroll == "" {
		p.Reenroll = DefaultReenroll
	}
	if p.Concurrency == "" {
		p.Concurrency = DefaultConcurrency
	}
	return p
}

// Defaulted returns the policy with the API defaults filled in, sharing
// no pointer with h.
func (h HistoryPolicy) Defaulted() HistoryPolicy {
	limit, ttl := DefaultHistoryLimit, DefaultTTLAfterFinished
	if h.Limit != nil {
		limit = *h.Limit
	}
	if h.TTLAfterFinished != nil {
		ttl = *h.TTLAfterFinished
	}
	return HistoryPolicy{Limit: &limit, TTLAfterFinished: &ttl}
}

// Defaulted returns the policy with the API defaults filled in, sharing
// no pointer with r.
func (r RetryPolicy) Defaulted() RetryPolicy {
	attempts, initial, maxBackoff := DefaultRetryAttempts, DefaultInitialBackoff, DefaultMaxBackoff
	if r.Attempts != nil {
		attempts = *r.Attempts
	}
	if r.InitialBackoff != nil {
		initial = *r.InitialBackoff
	}
	if r.MaxBackoff != nil {
		maxBackoff = *r.MaxBackoff
	}
	return RetryPolicy{Attempts: &attempts, InitialBackoff: &initial, MaxBackoff: &maxBackoff}
}

// inheriting returns r with its unset fields taken from parent.
func (r RetryPolicy) inheriting(parent *RetryPolicy) RetryPolicy {
	if parent == nil {
		return r
	}
	if r.Attempts == nil && parent.Attempts != nil {
		n := *parent.Attempts
		r.Attempts = &n
	}
	if r.InitialBackoff == nil && parent.InitialBackoff != nil {
		d := *parent.InitialBackoff
		r.InitialBackoff = &d
	}
	if r.MaxBackoff == nil && parent.MaxBackoff != nil {
		d := *parent.MaxBackoff
		r.MaxBackoff = &d
	}
	return r
}

// TimeZoneOrDefault returns tz, or DefaultTimeZone when tz is empty.
func TimeZoneOrDefault(tz string) string {
	if tz == "" {
		return DefaultTimeZone
	}
	return tz
}

func (t *Trigger) defaultTimeZones() {
	if t.Schedule != nil {
		t.Schedule.TimeZone = TimeZoneOrDefault(t.Schedule.TimeZone)
	}
	if t.DateField != nil {
		t.DateField.TimeZone = TimeZoneOrDefault(t.DateField.TimeZone)
	}
}

func (b *BusinessHours) defaultFields() {
	if b == nil {
		return
	}
	b.TimeZone = TimeZoneOrDefault(b.TimeZone)
	if len(b.Days) == 0 {
		b.Days = DefaultBusinessDays()
	}
}

func (c *Connections) defaultFields() {
	if c == nil {
		return
	}
	if c.SMTP != nil {
		if c.SMTP.Port == 0 {
			c.SMTP.Port = DefaultSMTPPort
		}
		if c.SMTP.TLS == "" {
			c.SMTP.TLS = DefaultSMTPTLS
		}
	}
	if c.SMS != nil && c.SMS.Format == "" {
		c.SMS.Format = DefaultSMSFormat
	}
}

// defaultFields fills a step's retry policy (from the workflow's) and its
// action's defaults.
func (s *Step) defaultFields(workflowRetry *RetryPolicy) {
	if s.Retry != nil {
		*s.Retry = s.Retry.inheriting(workflowRetry).Defaulted()
	}
	switch {
	case s.CallWebhook != nil && s.CallWebhook.Method == "":
		s.CallWebhook.Method = DefaultWebhookMethod
	case s.UpdateExternalCRM != nil && s.UpdateExternalCRM.Method == "":
		s.UpdateExternalCRM.Method = DefaultExternalCRMMethod
	case s.CreateTicket != nil && s.CreateTicket.Priority == "":
		s.CreateTicket.Priority = DefaultTicketPriority
	case s.End != nil && s.End.Result == "":
		s.End.Result = DefaultEndResult
	case s.Wait != nil:
		s.Wait.BusinessHours.defaultFields()
	}
}

// EventTypes are the event types an event or dateField trigger listens to;
// nil for a schedule trigger.
func (t *Trigger) EventTypes() []EventType {
	switch {
	case t.Event != nil:
		return t.Event.Types
	case t.DateField != nil:
		return t.DateField.Types
	}
	return nil
}
