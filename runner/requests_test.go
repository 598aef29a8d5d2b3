package runner

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/runner/actions"
	"github.com/crmflow/crmflow/test/fixture"
)

// requestEvent carries every entity the action tests render.
func requestEvent() *v1alpha1.CloudEvent {
	return fixture.Event("ticket.created", obj{
		"contact": obj{"id": "c-42", "email": "ann@example.com", "firstName": "Ann", "phone": "+15550100", "score": 7},
		"lead":    obj{"id": "l-1"},
		"ticket":  obj{"id": "t-9", "subject": `Printer "on fire"`},
	}, fixture.SetEventTime(t0))
}

func TestBuildEveryActionKind(t *testing.T) {
	sel := func(name, key string) *v1alpha1.SecretKeySelector {
		return &v1alpha1.SecretKeySelector{Name: name, Key: key}
	}
	due := v1alpha1.Duration("2d")
	origin := actions.Origin{Namespace: "sales", Workflow: "wf", Run: "run-1", RunUID: "uid-1", Step: "s", Subject: "c-42",
		IdempotencyKey: "uid-1/s", Hops: 1, Chain: []string{"sales/other/c-42"}}
	cmd := func(typ, subject string, data map[string]any) *actions.Command {
		return &actions.Command{SinkURL: "http://127.0.0.1/sink", Token: "crm-token", Type: typ, Subject: subject, Data: data}
	}
	cases := []struct {
		name string
		step v1alpha1.Step
		want actions.Request
	}{
		{"sendEmail", v1alpha1.Step{SendEmail: &v1alpha1.SendEmailAction{To: "{{ contact.email }}", Cc: []v1alpha1.Template{"boss@example.com"},
			ReplyTo: "help@example.com", Subject: "Welcome, {{ contact.firstName }}", Body: "Hi {{ contact.firstName }}", HTML: "<b>Hi</b>"}},
			actions.Request{Email: &actions.Email{Host: "127.0.0.1", Port: 25, TLS: "None", Username: "mailer", Password: "pw",
				From: "crm@example.com", To: "ann@example.com", Cc: []string{"boss@example.com"}, ReplyTo: "help@example.com",
				Subject: "Welcome, Ann", Body: "Hi Ann", HTML: "<b>Hi</b>"}}},
		{"sendSMS", v1alpha1.Step{SendSMS: &v1alpha1.SendSMSAction{To: "{{ contact.phone }}", Body: "Score {{ contact.score }}"}},
			actions.Request{SMS: &actions.SMS{URL: "http://127.0.0.1/sms", Format: "JSON", Token: "tok", From: "+15550000", To: "+15550100", Body: "Score 7"}}},
		{"notify", v1alpha1.Step{Notify: &v1alpha1.NotifyAction{Channel: "vip", Message: "{{ contact.firstName }} is here"}},
			actions.Request{Notify: &actions.Notification{WebhookURL: "http://127.0.0.1:1/hook", Channel: "vip", Text: "Ann is here"}}},
		{"notify with its own hook", v1alpha1.Step{Notify: &v1alpha1.NotifyAction{Message: "x", WebhookURLSecretRef: sel("hooks", "zap")}},
			actions.Request{Notify: &actions.Notification{WebhookURL: "http://127.0.0.1:1/zap", Text: "x"}}},
		{"updateContact", v1alpha1.Step{UpdateContact: &v1alpha1.UpdateContactAction{Fields: map[string]v1alpha1.Template{
			"seen": "{{ now }}", "score": "{{ contact.score + 1.0 }}", "label": "score {{ contact.score }}"}}},
			actions.Request{Command: cmd(actions.CommandContactUpdate, "c-42", map[string]any{"contactId": "c-42",
				"fields": map[string]any{"seen": "2026-03-02T10:00:00Z", "score": float64(8), "label": "score 7"}})}},
		{"addTags", v1alpha1.Step{AddTags: &v1alpha1.TagsAction{Tags: []v1alpha1.Template{"VIP", "{{ lead.id }}"}}},
			actions.Request{Command: cmd(actions.CommandContactTagsAdd, "c-42", map[string]any{"contactId": "c-42", "tags": []string{"VIP", "l-1"}})}},
		{"removeTags", v1alpha1.Step{RemoveTags: &v1alpha1.TagsAction{ContactID: "c-7", Tags: []v1alpha1.Template{"VIP"}}},
			actions.Request{Command: cmd(actions.CommandContactTagsRemove, "c-7", map[string]any{"contactId": "c-7", "tags": []string{"VIP"}})}},
		{"addToSegment", v1alpha1.Step{AddToSegment: &v1alpha1.SegmentAction{Segment: "newsletter"}},
			actions.Request{Command: cmd(actions.CommandContactSegmentAdd, "c-42", map[string]any{"contactId": "c-42", "segment": "newsletter"})}},
		{"removeFromSegment", v1alpha1.Step{RemoveFromSegment: &v1alpha1.SegmentAction{Segment: "newsletter"}},
			actions.Request{Command: cmd(actions.CommandContactSegmentRemove, "c-42", map[string]any{"contactId": "c-42", "segment": "newsletter"})}},
		{"assignContact", v1alpha1.Step{AssignContact: &v1alpha1.AssignAction{User: "sales-rep-pool"}},
			actions.Request{Command: cmd(actions.CommandContactAssign, "c-42", map[string]any{"contactId": "c-42", "user": "sales-rep-pool"})}},
		{"createTask", v1alpha1.Step{CreateTask: &v1alpha1.CreateTaskAction{Title: "Call {{ contact.firstName }}", Assignee: "am-1", DueIn: &due}},
			actions.Request{Command: cmd(actions.CommandTaskCreate, "c-42", map[string]any{"contactId": "c-42", "title": "Call Ann",
				"assignee": "am-1", "due": "2026-03-04T10:00:00Z"})}},
		{"createLead", v1alpha1.Step{CreateLead: &v1alpha1.CreateLeadAction{Source: "Chat", Status: "New", Fields: map[string]v1alpha1.Template{"budget": "1000"}}},
			actions.Request{Command: cmd(actions.CommandLeadCreate, "c-42", map[string]any{"contactId": "c-42", "source": "Chat", "status": "New",
				"fields": map[string]any{"budget": "1000"}})}},
		{"updateLeadStatus defaults to lead.id", v1alpha1.Step{UpdateLeadStatus: &v1alpha1.UpdateLeadStatusAction{Status: "Qualified"}},
			actions.Request{Command: cmd(actions.CommandLeadStatusUpdate, "l-1", map[string]any{"leadId": "l-1", "status": "Qualified"})}},
		{"createTicket", v1alpha1.Step{CreateTicket: &v1alpha1.CreateTicketAction{Title: "Help {{ contact.firstName }}", Priority: v1alpha1.PriorityHigh, Team: "support"}},
			actions.Request{Command: cmd(actions.CommandTicketCreate, "c-42", map[string]any{"contactId": "c-42", "title": "Help Ann", "priority": "High", "team": "support"})}},
		{"createTicket with the API's default priority", v1alpha1.Step{CreateTicket: &v1alpha1.CreateTicketAction{Title: "x"}},
			actions.Request{Command: cmd(actions.CommandTicketCreate, "c-42", map[string]any{"contactId": "c-42", "title": "x", "priority": "Normal"})}},
		{"assignTicket defaults to ticket.id", v1alpha1.Step{AssignTicket: &v1alpha1.AssignTicketAction{Team: "tier-2"}},
			actions.Request{Command: cmd(actions.CommandTicketAssign, "t-9", map[string]any{"ticketId": "t-9", "team": "tier-2"})}},
		{"callWebhook", v1alpha1.Step{CallWebhook: &v1alpha1.WebhookAction{URL: "http://127.0.0.1/hooks/{{ ticket.id }}", Method: "PUT",
			Headers: []v1alpha1.HTTPHeader{{Name: "X-Token", ValueFrom: sel("crm", "token")}, {Name: "X-Contact", Value: "{{ subject }}"}},
			Body:    `{"subject": "{{ ticket.subject }}", "score": {{ contact.score }}, "tags": {{ ["a", "b"] }}}`, SuccessCodes: []int32{200, 202}}},
			actions.Request{HTTP: &actions.HTTPCall{Method: "PUT", URL: "http://127.0.0.1/hooks/t-9",
				Headers: map[string]string{"X-Token": "crm-token", "X-Contact": "c-42"},
				Body:    []byte(`{"subject": "Printer \"on fire\"", "score": 7, "tags": ["a","b"]}`), SuccessCodes: []int{200, 202}}}},
		{"callWebhook with a secret URL", v1alpha1.Step{CallWebhook: &v1alpha1.WebhookAction{URLFrom: sel("hooks", "url")}},
			actions.Request{HTTP: &actions.HTTPCall{Method: "POST", URL: "http://127.0.0.1:1/secret-url", SecretURL: true, Headers: map[string]string{}}}},
		{"updateExternalCRM", v1alpha1.Step{UpdateExternalCRM: &v1alpha1.ExternalCRMAction{System: "salesforce", URL: "http://127.0.0.1/sf",
			Object: "Contact", RecordID: "{{ contact.id }}", Fields: map[string]v1alpha1.Template{"Email": "{{ contact.email }}"}}},
			actions.Request{HTTP: &actions.HTTPCall{Method: "PATCH", URL: "http://127.0.0.1/sf", Headers: map[string]string{},
				Body: []byte(`{"fields":{"Email":"ann@example.com"},"id":"c-42","object":"Contact"}`)}}},
		{"triggerZapier", v1alpha1.Step{TriggerZapier: &v1alpha1.ZapierAction{HookURLSecretRef: *sel("hooks", "zap"),
			Data: map[string]v1alpha1.Template{"email": "{{ contact.email }}", "score": "{{ contact.score }}"}}},
			actions.Request{HTTP: &actions.HTTPCall{Method: "POST", URL: "http://127.0.0.1:1/zap", SecretURL: true, Headers: map[string]string{},
				Body: []byte(`{"email":"ann@example.com","score":7}`)}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			step := tc.step
			step.Name = "s"
			spec := eventSpec(step)
			spec.Connections.SMTP.CredentialsSecretRef = &v1alpha1.SecretReference{Name: "smtp"}
			spec.Connections.SMS.CredentialsSecretRef = &v1alpha1.SecretReference{Name: "sms"}
			spec.Connections.SMS.From = "+15550000"
			spec.Connections.CRM.CredentialsSecretRef = &v1alpha1.SecretReference{Name: "crm"}
			h := newHarness(t, newRun(spec, withEvent(requestEvent()), func(r *v1alpha1.WorkflowRun) {
				r.Spec.Cause = &v1alpha1.CausalChain{Hops: 1, Links: []string{"sales/other/c-42"}}
			}))
			h.advance()
			g.Expect(h.run.Status.Phase).To(Equal(v1alpha1.RunSucceeded), h.run.Status.Message)
			g.Expect(h.rec.reqs).To(HaveLen(1))
			want := tc.want
			want.Kind = actions.Kind(stepKind(&step))
			want.Origin = origin
			got := h.rec.reqs[0]
			if got.HTTP != nil {
				g.Expect(string(got.HTTP.Body)).To(Equal(string(want.HTTP.Body)))
			}
			g.Expect(got).To(Equal(want))
		})
	}
}

func TestBuildFailures(t *testing.T) {
	cases := []struct {
		name    string
		step    v1alpha1.Step
		phase   v1alpha1.RunPhase
		message string
	}{
		{"a template on a missing field fails the step, not retried",
			v1alpha1.Step{SendEmail: &v1alpha1.SendEmailAction{To: "{{ contact.fax }}", Subject: "x", Body: "x"}},
			v1alpha1.RunFailed, `failed, not retryable: render sendEmail.to: evaluate " contact.fax ": no such key: fax`},
		{"a missing Secret names the field and the fix, and is retried a minute later (it may be created)",
			v1alpha1.Step{Notify: &v1alpha1.NotifyAction{Message: "x", WebhookURLSecretRef: &v1alpha1.SecretKeySelector{Name: "nope", Key: "k"}}},
			v1alpha1.RunWaiting, `attempt 1 of 5 failed: spec.steps[0].notify.webhookURLSecretRef: Secret sales/nope not found (key "k"); ` +
				`create it: kubectl -n sales create secret generic nope --from-literal=k=<value>; next attempt at 2026-03-02T10:01:00Z`},
		{"a missing key names the field and the keys there are, and is retried a minute later",
			v1alpha1.Step{Notify: &v1alpha1.NotifyAction{Message: "x", WebhookURLSecretRef: &v1alpha1.SecretKeySelector{Name: "hooks", Key: "k"}}},
			v1alpha1.RunWaiting, `attempt 1 of 5 failed: spec.steps[0].notify.webhookURLSecretRef: Secret sales/hooks has no key "k" (it has "notify", "url", "zap"); add the key to the Secret; next attempt at 2026-03-02T10:01:00Z`},
		{"updateLeadStatus without a lead id",
			v1alpha1.Step{UpdateLeadStatus: &v1alpha1.UpdateLeadStatusAction{Status: "Won"}},
			v1alpha1.RunFailed, `failed, not retryable: render updateLeadStatus.leadId: default {{ lead.id }}: evaluate " lead.id ": no such key: id`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			step := tc.step
			step.Name = "s"
			h := newHarness(t, newRun(eventSpec(step), withEvent(fixture.Event("x", obj{"contact": obj{}}))))
			h.advance()
			g.Expect(h.run.Status.Phase).To(Equal(tc.phase))
			g.Expect(h.step("s").Message).To(Equal(tc.message))
			g.Expect(h.rec.reqs).To(BeEmpty())
		})
	}
}

func TestNoSinkIsAClearError(t *testing.T) {
	g := NewWithT(t)
	spec := eventSpec(tagStep("s"))
	spec.Connections.CRM = nil
	h := newHarness(t, newRun(spec))
	h.advance()
	g.Expect(h.step("s").Message).To(Equal("failed, not retryable: no CRM sink: set spec.connections.crm.sinkURL or the manager's --crm-sink-url"))

	h = newHarness(t, newRun(spec))
	h.e = New(Options{Executor: h.rec, CRMSinkURL: "http://127.0.0.1/default-sink", Clock: h.clk})
	h.advance()
	g.Expect(h.rec.reqs).To(HaveLen(1))
	g.Expect(h.rec.reqs[0].Command.SinkURL).To(Equal("http://127.0.0.1/default-sink"))
}

// A Workflow stored before admission bounded steps[].timeout still gets at
// most MaxStepTimeout per attempt: the attempt holds a run worker.
func TestAttemptTimeoutIsBounded(t *testing.T) {
	g := NewWithT(t)
	for timeout, want := range map[string]time.Duration{"1d": v1alpha1.MaxStepTimeout, "45s": 45 * time.Second} {
		step := v1alpha1.Step{Name: "s", Timeout: fixture.Duration(timeout), Notify: &v1alpha1.NotifyAction{Message: "x"}}
		h := newHarness(t, newRun(eventSpec(step), withEvent(requestEvent())))
		h.advance()
		g.Expect(h.rec.reqs).To(HaveLen(1))
		g.Expect(h.rec.reqs[0].Timeout).To(Equal(want), "timeout %s", timeout)
	}
}
