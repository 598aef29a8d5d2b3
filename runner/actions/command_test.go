package actions_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	. "github.com/onsi/gomega"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/runner/actions"
	"github.com/crmflow/crmflow/test/servers"
)

// ceSink is a real HTTP server whose requests are read with the CloudEvents SDK.
type ceSink struct{ *servers.HTTP }

// newCESink starts a sink that answers with respond (nil: 202 Accepted).
func newCESink(t *testing.T, respond servers.Responder) ceSink {
	if respond == nil {
		respond = servers.Answer(http.StatusAccepted, "")
	}
	return ceSink{newHTTPTarget(t, respond)}
}

// received parses every request received so far as a CloudEvent.
func (s ceSink) received() ([]*event.Event, []error) {
	var events []*event.Event
	var errs []error
	for _, r := range s.Requests() {
		ev, err := r.CloudEvent()
		events, errs = append(events, ev), append(errs, err)
	}
	return events, errs
}

func TestCommandsAsCloudEvents(t *testing.T) {
	tests := []struct {
		kind     actions.Kind
		wantType string
		subject  string
		data     map[string]any
	}{
		{actions.KindUpdateContact, "io.crmflow.contact.update", "contact-42", map[string]any{"fields": map[string]any{"last_vip_contact": "2026-03-02T14:30:00Z"}}},
		{actions.KindAddTags, "io.crmflow.contact.tags.add", "contact-42", map[string]any{"tags": []any{"VIP_Conversation"}}},
		{actions.KindRemoveTags, "io.crmflow.contact.tags.remove", "contact-42", map[string]any{"tags": []any{"Cold"}}},
		{actions.KindAddToSegment, "io.crmflow.contact.segment.add", "contact-42", map[string]any{"segment": "newsletter"}},
		{actions.KindRemoveFromSegment, "io.crmflow.contact.segment.remove", "contact-42", map[string]any{"segment": "newsletter"}},
		{actions.KindAssignContact, "io.crmflow.contact.assign", "contact-42", map[string]any{"user": "sales-rep-pool"}},
		{actions.KindCreateTask, "io.crmflow.task.create", "contact-42", map[string]any{"title": "Call Ann"}},
		{actions.KindCreateLead, "io.crmflow.lead.create", "contact-42", map[string]any{"source": "Website", "status": "New"}},
		{actions.KindUpdateLeadStatus, "io.crmflow.lead.status.update", "lead-7", map[string]any{"status": "Qualified"}},
		{actions.KindCreateTicket, "io.crmflow.ticket.create", "contact-42", map[string]any{"title": "Unhappy customer", "priority": "High"}},
		{actions.KindAssignTicket, "io.crmflow.ticket.assign", "ticket-3", map[string]any{"team": "support"}},
	}
	for _, tc := range tests {
		t.Run(string(tc.kind), func(t *testing.T) {
			g := NewWithT(t)
			sink := newCESink(t, nil)
			o := origin()
			o.Hops = 1
			o.Chain = []string{"sales/intake-router/contact-42"}

			res, err := newExecutor().Execute(context.Background(), actions.Request{
				Kind: tc.kind, Origin: o,
				// Type left empty: the executor derives it from the kind.
				Command: &actions.Command{SinkURL: sink.URL + "/crm", Token: "sink-token", Subject: tc.subject, Data: tc.data},
			})
			g.Expect(err).NotTo(HaveOccurred())

			events, errs := sink.received()
			g.Expect(events).To(HaveLen(1))
			g.Expect(errs[0]).NotTo(HaveOccurred())
			ev := events[0]
			g.Expect(ev.SpecVersion()).To(Equal("1.0"))
			g.Expect(ev.ID()).To(Equal("0b7e7f1c-uid/welcome"))
			g.Expect(ev.Source()).To(Equal("crmflow.io/sales/lead-follow-up"))
			g.Expect(ev.Type()).To(Equal(tc.wantType))
			g.Expect(ev.Subject()).To(Equal(tc.subject))
			g.Expect(ev.Time()).To(BeTemporally("==", t0))
			g.Expect(ev.DataContentType()).To(Equal("application/json"))
			var data map[string]any
			g.Expect(json.Unmarshal(ev.Data(), &data)).To(Succeed())
			g.Expect(data).To(Equal(tc.data))
			g.Expect(ev.Extensions()).To(Equal(map[string]any{
				v1alpha1.ExtensionHops:     "2",
				v1alpha1.ExtensionChain:    "sales/intake-router/contact-42,sales/lead-follow-up/contact-42",
				v1alpha1.ExtensionRun:      "sales/lead-follow-up-abc",
				v1alpha1.ExtensionWorkflow: "sales/lead-follow-up",
			}))

			got := sink.Requests()[0]
			g.Expect(got.Method).To(Equal(http.MethodPost))
			g.Expect(got.Path).To(Equal("/crm"))
			// Binary mode: attributes in ce- headers, the data alone in the body.
			g.Expect(got.Header.Get("Ce-Id")).To(Equal("0b7e7f1c-uid/welcome"))
			g.Expect(got.Header.Get("Content-Type")).To(Equal("application/json"))
			g.Expect(got.Header.Get("Authorization")).To(Equal("Bearer sink-token"))
			g.Expect(got.Header.Get("Idempotency-Key")).To(Equal("0b7e7f1c-uid/welcome"))

			g.Expect(res.Output).To(HaveKeyWithValue("status", http.StatusAccepted))
			g.Expect(res.Output).To(HaveKeyWithValue("type", tc.wantType))
			g.Expect(res.Output).To(HaveKeyWithValue("id", "0b7e7f1c-uid/welcome"))
		})
	}
}

func TestCommandFromOutsideStartsTheChain(t *testing.T) {
	g := NewWithT(t)
	sink := newCESink(t, servers.Answer(http.StatusOK, `{"leadId":"L-77"}`, "Content-Type", "application/json"))
	res, err := newExecutor().Execute(context.Background(), actions.Request{
		Kind: actions.KindCreateLead, Origin: origin(),
		Command: &actions.Command{SinkURL: sink.URL, Type: actions.CommandLeadCreate, Data: map[string]any{"source": "Chat"}},
	})
	g.Expect(err).NotTo(HaveOccurred())
	events, _ := sink.received()
	g.Expect(events).To(HaveLen(1))
	// Subject defaults to the run's subject; a run caused from outside (hops 0)
	// sends hops 1 and a one-link chain; no Authorization without a token.
	g.Expect(events[0].Subject()).To(Equal("contact-42"))
	g.Expect(events[0].Extensions()).To(HaveKeyWithValue(v1alpha1.ExtensionHops, "1"))
	g.Expect(events[0].Extensions()).To(HaveKeyWithValue(v1alpha1.ExtensionChain, "sales/lead-follow-up/contact-42"))
	g.Expect(sink.Requests()[0].Header.Values("Authorization")).To(BeEmpty())
	// The sink's answer (e.g. the created lead's id) is the step's output.
	g.Expect(res.Output).To(HaveKeyWithValue("body", map[string]any{"leadId": "L-77"}))
}

func TestCommandTypeCatalogue(t *testing.T) {
	g := NewWithT(t)
	for _, k := range []actions.Kind{actions.KindSendEmail, actions.KindSendSMS, actions.KindNotify, actions.KindCallWebhook} {
		_, ok := actions.CommandType(k)
		g.Expect(ok).To(BeFalse(), "%s is not a command", k)
		g.Expect(actions.IsCommand(k)).To(BeFalse())
	}
	typ, ok := actions.CommandType(actions.KindAssignTicket)
	g.Expect(ok).To(BeTrue())
	g.Expect(typ).To(Equal(actions.CommandTicketAssign))
}

func TestCommandConstructors(t *testing.T) {
	due := time.Date(2026, 3, 5, 9, 0, 0, 0, time.FixedZone("EST", -5*3600))
	tests := []struct {
		name     string
		cmd      *actions.Command
		kind     actions.Kind
		wantType string
		subject  string
		data     string
	}{
		{"updateContact", actions.UpdateContactCommand("c-1", map[string]any{"last_vip_contact": "2026-03-02T14:30:00Z"}), actions.KindUpdateContact,
			"io.crmflow.contact.update", "c-1", `{"contactId":"c-1","fields":{"last_vip_contact":"2026-03-02T14:30:00Z"}}`},
		{"addTags", actions.TagsCommand(true, "c-1", []string{"VIP_Conversation"}), actions.KindAddTags,
			"io.crmflow.contact.tags.add", "c-1", `{"contactId":"c-1","tags":["VIP_Conversation"]}`},
		{"removeTags", actions.TagsCommand(false, "c-1", []string{"Cold", "Lost"}), actions.KindRemoveTags,
			"io.crmflow.contact.tags.remove", "c-1", `{"contactId":"c-1","tags":["Cold","Lost"]}`},
		{"addToSegment", actions.SegmentCommand(true, "c-1", "newsletter"), actions.KindAddToSegment,
			"io.crmflow.contact.segment.add", "c-1", `{"contactId":"c-1","segment":"newsletter"}`},
		{"removeFromSegment", actions.SegmentCommand(false, "c-1", "newsletter"), actions.KindRemoveFromSegment,
			"io.crmflow.contact.segment.remove", "c-1", `{"contactId":"c-1","segment":"newsletter"}`},
		{"assignContact", actions.AssignContactCommand("c-1", "sales-rep-pool", ""), actions.KindAssignContact,
			"io.crmflow.contact.assign", "c-1", `{"contactId":"c-1","user":"sales-rep-pool"}`},
		{"createTask", actions.CreateTaskCommand("c-1", "Call Ann", "", "u-9", &due), actions.KindCreateTask,
			"io.crmflow.task.create", "c-1", `{"contactId":"c-1","title":"Call Ann","assignee":"u-9","due":"2026-03-05T14:00:00Z"}`},
		{"createLead", actions.CreateLeadCommand("c-1", "Website", "New", map[string]any{"campaign": "spring"}), actions.KindCreateLead,
			"io.crmflow.lead.create", "c-1", `{"contactId":"c-1","source":"Website","status":"New","fields":{"campaign":"spring"}}`},
		{"updateLeadStatus", actions.UpdateLeadStatusCommand("L-7", "Qualified"), actions.KindUpdateLeadStatus,
			"io.crmflow.lead.status.update", "L-7", `{"leadId":"L-7","status":"Qualified"}`},
		{"createTicket", actions.CreateTicketCommand("c-1", "Unhappy customer", "score 0.1", "", "support"), actions.KindCreateTicket,
			"io.crmflow.ticket.create", "c-1", `{"contactId":"c-1","title":"Unhappy customer","description":"score 0.1","priority":"Normal","team":"support"}`},
		{"assignTicket", actions.AssignTicketCommand("T-3", "", "tier-2"), actions.KindAssignTicket,
			"io.crmflow.ticket.assign", "T-3", `{"ticketId":"T-3","team":"tier-2"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			sink := newCESink(t, nil)
			tc.cmd.SinkURL = sink.URL
			_, err := newExecutor().Execute(context.Background(), actions.Request{Kind: tc.kind, Origin: origin(), Command: tc.cmd})
			g.Expect(err).NotTo(HaveOccurred())
			events, _ := sink.received()
			g.Expect(events).To(HaveLen(1))
			g.Expect(events[0].Type()).To(Equal(tc.wantType))
			g.Expect(events[0].Subject()).To(Equal(tc.subject))
			g.Expect(string(events[0].Data())).To(MatchJSON(tc.data))
			wantType, _ := actions.CommandType(tc.kind)
			g.Expect(tc.cmd.Type).To(Equal(wantType), "constructor and kind agree")
		})
	}
}
