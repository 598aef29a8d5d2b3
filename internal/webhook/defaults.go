package webhook

import (
	"github.com/crmflow/crmflow/api/v1alpha1"
)

// Default values written by the defaulter. They match the +kubebuilder:default
// markers of the API, so an object reads the same whether the API server's
// structural defaulting or the webhook filled a field.
const (
	DefaultRetryAttempts  int32             = 5
	DefaultInitialBackoff v1alpha1.Duration = "1s"
	DefaultMaxBackoff     v1alpha1.Duration = "5m"
	DefaultHistoryLimit   int32             = 50
	DefaultHistoryTTL     v1alpha1.Duration = "168h"
	DefaultTimeZone                         = "UTC"
)

// defaultWeekdays are the business days when businessHours names none.
var defaultWeekdays = []v1alpha1.Weekday{v1alpha1.Monday, v1alpha1.Tuesday, v1alpha1.Wednesday, v1alpha1.Thursday, v1alpha1.Friday}

// DefaultWorkflowSpec fills every unset field that has a default. It is
// idempotent and never overwrites a value the user set.
func DefaultWorkflowSpec(spec *v1alpha1.WorkflowSpec) {
	if spec.State == "" {
		spec.State = v1alpha1.WorkflowDraft
	}
	if spec.Enrollment.Reenroll == "" {
		spec.Enrollment.Reenroll = v1alpha1.ReenrollAfterExit
	}
	if spec.Enrollment.Concurrency == "" {
		spec.Enrollment.Concurrency = v1alpha1.ConcurrencyForbid
	}
	if spec.Retry == nil {
		spec.Retry = &v1alpha1.RetryPolicy{}
	}
	defaultRetry(spec.Retry)
	if spec.History.Limit == nil {
		limit := DefaultHistoryLimit
		spec.History.Limit = &limit
	}
	if spec.History.TTLAfterFinished == nil {
		ttl := DefaultHistoryTTL
		spec.History.TTLAfterFinished = &ttl
	}
	defaultTrigger(&spec.Trigger)
	for i := range spec.Conditions {
		defaultBusinessHours(spec.Conditions[i].BusinessHours)
	}
	defaultConnections(spec.Connections)
	for i := range spec.Steps {
		defaultStep(&spec.Steps[i], spec.Retry)
	}
}

// defaultRetry fills the unset fields of a retry policy.
func defaultRetry(r *v1alpha1.RetryPolicy) {
	if r.Attempts == nil {
		n := DefaultRetryAttempts
		r.Attempts = &n
	}
	if r.InitialBackoff == nil {
		d := DefaultInitialBackoff
		r.InitialBackoff = &d
	}
	if r.MaxBackoff == nil {
		d := DefaultMaxBackoff
		r.MaxBackoff = &d
	}
}

func defaultTrigger(t *v1alpha1.Trigger) {
	if t.Schedule != nil && t.Schedule.TimeZone == "" {
		t.Schedule.TimeZone = DefaultTimeZone
	}
	if t.DateField != nil && t.DateField.TimeZone == "" {
		t.DateField.TimeZone = DefaultTimeZone
	}
}

func defaultBusinessHours(b *v1alpha1.BusinessHours) {
	if b == nil {
		return
	}
	if b.TimeZone == "" {
		b.TimeZone = DefaultTimeZone
	}
	if len(b.Days) == 0 {
		b.Days = append([]v1alpha1.Weekday(nil), defaultWeekdays...)
	}
}

func defaultConnections(c *v1alpha1.Connections) {
	if c == nil {
		return
	}
	if c.SMTP != nil {
		if c.SMTP.Port == 0 {
			c.SMTP.Port = 587
		}
		if c.SMTP.TLS == "" {
			c.SMTP.TLS = v1alpha1.SMTPStartTLS
		}
	}
	if c.SMS != nil && c.SMS.Format == "" {
		c.SMS.Format = v1alpha1.SMSFormatJSON
	}
}

// defaultStep fills a step's action defaults. A step's own retry policy
// inherits the unset fields from the workflow's, so that a partial override
// such as {attempts: 2} keeps the workflow's backoff.
func defaultStep(s *v1alpha1.Step, workflowRetry *v1alpha1.RetryPolicy) {
	if s.Retry != nil {
		if s.Retry.Attempts == nil && workflowRetry.Attempts != nil {
			n := *workflowRetry.Attempts
			s.Retry.Attempts = &n
		}
		if s.Retry.InitialBackoff == nil && workflowRetry.InitialBackoff != nil {
			d := *workflowRetry.InitialBackoff
			s.Retry.InitialBackoff = &d
		}
		if s.Retry.MaxBackoff == nil && workflowRetry.MaxBackoff != nil {
			d := *workflowRetry.MaxBackoff
			s.Retry.MaxBackoff = &d
		}
		defaultRetry(s.Retry)
	}
	switch {
	case s.CallWebhook != nil && s.CallWebhook.Method == "":
		s.CallWebhook.Method = "POST"
	case s.UpdateExternalCRM != nil && s.UpdateExternalCRM.Method == "":
		s.UpdateExternalCRM.Method = "PATCH"
	case s.CreateTicket != nil && s.CreateTicket.Priority == "":
		s.CreateTicket.Priority = v1alpha1.PriorityNormal
	case s.End != nil && s.End.Result == "":
		s.End.Result = v1alpha1.EndSucceeded
	case s.Wait != nil:
		defaultBusinessHours(s.Wait.BusinessHours)
	}
}
