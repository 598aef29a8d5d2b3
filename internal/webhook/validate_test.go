package webhook

import (
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/runner"
	"github.com/crmflow/crmflow/test/fixture"
)

func engine() *runner.Engine { return runner.New(runner.Options{}) }

// fieldsOf lists "field: detail" of every error.
func fieldsOf(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Field+": "+e.Detail)
	}
	return out
}

func TestSamplesAreValid(t *testing.T) {
	for _, name := range []string{"vip-routing", "lead-follow-up", "negative-sentiment", "weekly-digest", "renewal-reminder"} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			wf := fixture.MustSample(t, name)
			wf.Spec.Default()
			g.Expect(fieldsOf(ValidateWorkflowSpec(&wf.Spec, field.NewPath("spec"), engine()))).To(BeEmpty())
			g.Expect(WorkflowWarnings(&wf.Spec, field.NewPath("spec"), true)).To(BeEmpty(), "the samples are loop-free")
		})
	}
}

func TestValidateRefuses(t *testing.T) {
	cases := []struct {
		name  string
		wf    *v1alpha1.Workflow
		field string
		has   string
	}{
		{
			name:  "invalid CEL in a guard, with its position",
			wf:    fixture.Workflow("wf", fixture.AddSteps(v1alpha1.Step{Name: "later", If: "lead.score >", Notify: &v1alpha1.NotifyAction{Message: "x"}})),
			field: "spec.steps[1].if",
			has:   "1:",
		},
		{
			name:  "a template that does not compile",
			wf:    fixture.Workflow("wf", fixture.AddSteps(v1alpha1.Step{Name: "later", Notify: &v1alpha1.NotifyAction{Message: "hi {{ contact. }}"}})),
			field: "spec.steps[1].notify.message",
			has:   "1:",
		},
		{
			name: "a Secret in another namespace",
			wf: fixture.Workflow("wf", withSMTP("other-team/smtp"), fixture.AddSteps(v1alpha1.Step{Name: "mail",
				SendEmail: &v1alpha1.SendEmailAction{To: "a@b.c", Subject: "s", Body: "b"}})),
			field: "spec.connections.smtp.credentialsSecretRef.name",
			has:   "own namespace",
		},
		{
			name: "a Secret name that is no name",
			wf: fixture.Workflow("wf", fixture.EditSpec(func(s *v1alpha1.WorkflowSpec) {
				s.Connections.Notify.WebhookURLSecretRef.Name = "Hooks_1"
			})),
			field: "spec.connections.notify.webhookURLSecretRef.name",
			has:   "not a Secret name",
		},
		{
			name: "a Secret key that is no key",
			wf: fixture.Workflow("wf", fixture.AddSteps(v1alpha1.Step{Name: "zap", TriggerZapier: &v1alpha1.ZapierAction{
				HookURLSecretRef: v1alpha1.SecretKeySelector{Name: "zapier", Key: "hook url"}}})),
			field: "spec.steps[1].triggerZapier.hookURLSecretRef.key",
			has:   "not a Secret key",
		},
		{
			name:  "a bad cron expression",
			wf:    fixture.Workflow("wf", fixture.SetSchedule("0 9 * * Funday", "UTC")),
			field: "spec.trigger.schedule.cron",
			has:   "Funday",
		},
		{
			name:  "a cron expression that never fires",
			wf:    fixture.Workflow("wf", fixture.SetSchedule("0 9 30 2 *", "UTC")),
			field: "spec.trigger.schedule.cron",
			has:   "never fires",
		},
		{
			name:  "a cron expression with its own time zone",
			wf:    fixture.Workflow("wf", fixture.SetSchedule("CRON_TZ=UTC 0 9 * * *", "UTC")),
			field: "spec.trigger.schedule.cron",
			has:   "timeZone",
		},
		{
			name:  "an unknown time zone",
			wf:    fixture.Workflow("wf", fixture.SetSchedule("0 9 * * *", "Mars/Olympus_Mons")),
			field: "spec.trigger.schedule.timeZone",
			has:   "IANA",
		},
		{
			name: "an unknown business-hours time zone in a wait",
			wf: fixture.Workflow("wf", fixture.AddSteps(v1alpha1.Step{Name: "office", Wait: &v1alpha1.WaitAction{
				BusinessHours: &v1alpha1.BusinessHours{TimeZone: "Europe/Atlantis", From: "09:00", To: "17:00"}}})),
			field: "spec.steps[1].wait.businessHours",
			has:   "Europe/Atlantis",
		},
		{
			name: "a backoff cap below the first backoff",
			wf: fixture.Workflow("wf", fixture.EditSpec(func(s *v1alpha1.WorkflowSpec) {
				s.Retry = &v1alpha1.RetryPolicy{Attempts: fixture.Int32(3), InitialBackoff: fixture.Duration("1m"), MaxBackoff: fixture.Duration("10s")}
			})),
			field: "spec.retry",
			has:   "initialBackoff",
		},
		{
			name: "an attempt timeout longer than a worker may be held",
			wf: fixture.Workflow("wf", fixture.EditSpec(func(s *v1alpha1.WorkflowSpec) {
				s.Steps[0].Timeout = fixture.Duration("1d")
			})),
			field: "spec.steps[0].timeout",
			has:   "at most 5m",
		},
		{
			name: "a zero waitForEvent timeout",
			wf: fixture.Workflow("wf", fixture.AddSteps(v1alpha1.Step{Name: "await", WaitForEvent: &v1alpha1.WaitForEventAction{
				Types: []v1alpha1.EventType{"message.received"}, Timeout: "0s"}})),
			field: "spec.steps[1].waitForEvent.timeout",
			has:   "",
		},
		{
			name: "a webhook URL that no run can call",
			wf: fixture.Workflow("wf", fixture.AddSteps(v1alpha1.Step{Name: "hook", CallWebhook: &v1alpha1.WebhookAction{
				URL: "javascript:alert(1)"}})),
			field: "spec.steps[1].callWebhook.url",
			has:   `must be an http or https URL, got scheme "javascript"`,
		},
		{
			name: "a literal email address that is no address",
			wf: fixture.Workflow("wf", fixture.AddSteps(v1alpha1.Step{Name: "mail", SendEmail: &v1alpha1.SendEmailAction{
				To: "ann(at)example", Subject: "hi", Body: "b"}}), withSMTP("smtp")),
			field: "spec.steps[1].sendEmail.to",
			has:   "invalid address",
		},
		{
			name: "a subject that would inject a header",
			wf: fixture.Workflow("wf", fixture.AddSteps(v1alpha1.Step{Name: "mail", SendEmail: &v1alpha1.SendEmailAction{
				To: "{{ contact.email }}", Subject: "hi\nBcc: eve@example.com", Body: "b"}}), withSMTP("smtp")),
			field: "spec.steps[1].sendEmail.subject",
			has:   "line break",
		},
		{
			name:  "a wait so long it would wrap around to no wait at all",
			wf:    fixture.Workflow("wf", fixture.AddSteps(fixture.WaitStep("forever", "99999999999d"))),
			field: "spec.steps[1].wait.duration",
			has:   "longer than the maximum of 36500d",
		},
		{
			name: "a date offset that no event date plus it can store",
			wf: fixture.Workflow("wf", fixture.EditSpec(func(s *v1alpha1.WorkflowSpec) {
				s.Trigger = v1alpha1.Trigger{DateField: &v1alpha1.DateFieldTrigger{
					Types: []v1alpha1.EventType{"contact.updated"}, Field: "contact.renewalDate", Offset: "99999999d"}}
			})),
			field: "spec.trigger.dateField.offset",
			has:   "longer than the maximum",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			errs := ValidateWorkflowSpec(&tc.wf.Spec, field.NewPath("spec"), engine())
			var found *field.Error
			for _, e := range errs {
				if e.Field == tc.field || strings.HasPrefix(e.Field, tc.field+".") {
					found = e
				}
			}
			g.Expect(found).NotTo(BeNil(), "want an error at %s, got %v", tc.field, fieldsOf(errs))
			g.Expect(found.Error()).To(ContainSubstring(tc.has))
		})
	}
}

func TestValidateRebasesRunSnapshots(t *testing.T) {
	g := NewWithT(t)
	wf := fixture.Workflow("wf", fixture.AddSteps(v1alpha1.Step{Name: "later", If: "1 +", Notify: &v1alpha1.NotifyAction{Message: "x"}}))
	errs := ValidateWorkflowSpec(&wf.Spec, field.NewPath("spec", "workflow"), engine())
	g.Expect(fieldsOf(errs)).To(ContainElement(HavePrefix("spec.workflow.steps[1].if: ")))
}

func TestValidateReportsEachProblemOnce(t *testing.T) {
	g := NewWithT(t)
	wf := fixture.Workflow("wf", fixture.EditSpec(func(s *v1alpha1.WorkflowSpec) {
		s.Conditions = []v1alpha1.Condition{{BusinessHours: &v1alpha1.BusinessHours{TimeZone: "Nowhere/Land", From: "09:00", To: "17:00"}}}
	}))
	errs := ValidateWorkflowSpec(&wf.Spec, field.NewPath("spec"), engine())
	var n int
	for _, e := range errs {
		if strings.HasPrefix(e.Field, "spec.conditions[0].businessHours") {
			n++
		}
	}
	g.Expect(n).To(Equal(1), "engine and webhook must not both report the time zone: %v", fieldsOf(errs))
}

func TestWarnings(t *testing.T) {
	end := v1alpha1.Step{Name: "stop", End: &v1alpha1.EndAction{}}
	after := v1alpha1.Step{Name: "orphan", Notify: &v1alpha1.NotifyAction{Message: "x"}}
	cases := []struct {
		name string
		wf   *v1alpha1.Workflow
		want []string // substrings, one per expected warning
	}{
		{
			name: "addTags on a contact.tag.added workflow",
			wf: fixture.Workflow("wf", fixture.SetEventTrigger("contact.tag.added"), fixture.AddSteps(v1alpha1.Step{Name: "tag",
				AddTags: &v1alpha1.TagsAction{Tags: []v1alpha1.Template{"seen"}}})),
			want: []string{"likely loop: spec.steps[1].addTags (tag) makes the CRM emit contact.tag.added"},
		},
		{
			name: "updateContact on a contact.updated dateField workflow",
			wf: fixture.Workflow("wf", fixture.EditSpec(func(s *v1alpha1.WorkflowSpec) {
				s.Trigger = v1alpha1.Trigger{DateField: &v1alpha1.DateFieldTrigger{
					Types: []v1alpha1.EventType{"contact.updated"}, Field: "contact.renewalDate"}}
			}), fixture.AddSteps(v1alpha1.Step{Name: "stamp", UpdateContact: &v1alpha1.UpdateContactAction{
				Fields: map[string]v1alpha1.Template{"x": "y"}}})),
			want: []string{"spec.steps[1].updateContact (stamp) makes the CRM emit contact.updated"},
		},
		{
			name: "addTags on another trigger is fine",
			wf: fixture.Workflow("wf", fixture.AddSteps(v1alpha1.Step{Name: "tag",
				AddTags: &v1alpha1.TagsAction{Tags: []v1alpha1.Template{"seen"}}})),
		},
		{
			name: "a step after an end",
			wf:   fixture.Workflow("wf", fixture.AddSteps(end, after)),
			want: []string{`spec.steps[2] (orphan) never runs: it follows the end step "stop"`},
		},
		{
			name: "a step after an end that a branch targets",
			wf: fixture.Workflow("wf", fixture.EditSpec(func(s *v1alpha1.WorkflowSpec) {
				s.Steps = []v1alpha1.Step{
					{Name: "check", Branch: &v1alpha1.BranchAction{If: "lead.score > 5", Then: "orphan"}},
					end, after,
				}
			})),
		},
		{
			name: "a step after a guarded end",
			wf:   fixture.Workflow("wf", fixture.AddSteps(v1alpha1.Step{Name: "stop", If: "lead.score < 1", End: &v1alpha1.EndAction{}}, after)),
		},
		{
			name: "a trigger type one edit from a catalogue type",
			wf: fixture.Workflow("wf", fixture.EditSpec(func(s *v1alpha1.WorkflowSpec) {
				s.Trigger.Event.Types = []v1alpha1.EventType{"ticket.create"}
			})),
			want: []string{`spec.trigger.event.types[0]: event type "ticket.create" is not in the event catalogue (docs/events.md); did you mean "ticket.created"?`},
		},
		{
			name: "a waitForEvent type in the wrong case",
			wf: fixture.Workflow("wf", fixture.AddSteps(v1alpha1.Step{Name: "reply",
				WaitForEvent: &v1alpha1.WaitForEventAction{Types: []v1alpha1.EventType{"Message.Received"}, Timeout: "1h"}})),
			want: []string{`spec.steps[1].waitForEvent.types[0]: event type "Message.Received" is not in the event catalogue (docs/events.md); did you mean "message.received"?`},
		},
		{
			name: "a custom type far from the catalogue",
			wf: fixture.Workflow("wf", fixture.EditSpec(func(s *v1alpha1.WorkflowSpec) {
				s.Trigger.Event.Types = []v1alpha1.EventType{"io.example.invoice.paid"}
			})),
		},
		{
			name: "a Draft",
			wf:   fixture.Workflow("wf", fixture.EditSpec(func(s *v1alpha1.WorkflowSpec) { s.State = v1alpha1.WorkflowDraft })),
			want: []string{"spec.state is Draft"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			g.Expect(fieldsOf(ValidateWorkflowSpec(&tc.wf.Spec, field.NewPath("spec"), engine()))).To(BeEmpty(), "warnings are for valid workflows")
			got := WorkflowWarnings(&tc.wf.Spec, field.NewPath("spec"), true)
			g.Expect(got).To(HaveLen(len(tc.want)), "%q", got)
			for i, w := range tc.want {
				g.Expect(got[i]).To(ContainSubstring(w))
			}
		})
	}
}

func TestWarnsWithoutCRMSink(t *testing.T) {
	g := NewWithT(t)
	wf := fixture.Workflow("wf", fixture.AddSteps(v1alpha1.Step{Name: "tag", AddTags: &v1alpha1.TagsAction{Tags: []v1alpha1.Template{"x"}}}))
	g.Expect(WorkflowWarnings(&wf.Spec, field.NewPath("spec"), false)).To(ConsistOf(ContainSubstring("--crm-sink-url")))
	g.Expect(WorkflowWarnings(&wf.Spec, field.NewPath("spec"), true)).To(BeEmpty())
	wf.Spec.Connections.CRM = &v1alpha1.CRMConnection{SinkURL: "http://crm.example.com/"}
	g.Expect(WorkflowWarnings(&wf.Spec, field.NewPath("spec"), false)).To(BeEmpty())
}

// A Workflow stored before steps[].timeout was bounded stays editable: an
// update that keeps the step's long timeout (pausing it, say) is admitted
// with a warning, while a new or changed long timeout is refused.
func TestStepTimeoutBoundRatchets(t *testing.T) {
	g := NewWithT(t)
	v := &WorkflowValidator{Options{Compiler: engine(), CRMSinkKnown: true}}
	stored := fixture.Workflow("wf", fixture.EditSpec(func(s *v1alpha1.WorkflowSpec) {
		s.Steps[0].Timeout = fixture.Duration("10m")
	}))
	stored.Spec.Default()

	paused := stored.DeepCopy()
	paused.Spec.State = v1alpha1.WorkflowPaused
	warnings, err := v.ValidateUpdate(t.Context(), stored, paused)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(strings.Join(warnings, "\n")).To(ContainSubstring("spec.steps[0].timeout: 10m is above the 5m bound"))

	longer := stored.DeepCopy()
	longer.Spec.Steps[0].Timeout = fixture.Duration("20m")
	_, err = v.ValidateUpdate(t.Context(), stored, longer)
	g.Expect(err).To(MatchError(ContainSubstring("spec.steps[0].timeout")))

	_, err = v.ValidateCreate(t.Context(), paused)
	g.Expect(err).To(MatchError(ContainSubstring("at most 5m")))
}
