package console

import (
	"encoding/json"
	"net/http"
)

// The catalogue the builder offers: event types grouped as the design groups
// them, each with an example payload (the Test page's default sample and the
// source of field suggestions), the condition operators, and the actions with
// the fields their forms show. It mirrors docs/events.md and the API types.

// eventType is one entry of the event catalogue.
type eventType struct {
	Type        string         `json:"type"`
	Group       string         `json:"group"`
	Description string         `json:"description"`
	Example     map[string]any `json:"example"`
}

// actionField is one input of an action's form. Kind is text, textarea,
// list (one value per line), map (key: value lines), duration, cel, select,
// secretKey (Secret name + key), eventTypes or step (a step name).
type actionField struct {
	Name     string   `json:"name"`
	Label    string   `json:"label"`
	Kind     string   `json:"kind"`
	Required bool     `json:"required,omitempty"`
	Options  []string `json:"options,omitempty"`
	Help     string   `json:"help,omitempty"`
}

// action is one entry of the action catalogue.
type action struct {
	Kind   string        `json:"kind"`
	Group  string        `json:"group"`
	Label  string        `json:"label"`
	Fields []actionField `json:"fields"`
}

// catalogueAnswer is GET /api/catalogue.
type catalogueAnswer struct {
	Events    []eventType `json:"events"`
	Operators []string    `json:"operators"`
	Actions   []action    `json:"actions"`
}

func contact() map[string]any {
	return map[string]any{"id": "c-42", "firstName": "Ann", "lastName": "Lee", "email": "ann@example.com",
		"phone": "+15551234567", "tags": []any{"VIP"}, "renewalDate": "2027-03-01"}
}

func conversation() map[string]any {
	return map[string]any{"id": "conv-7", "contactId": "c-42", "channel": "chat"}
}

func eventCatalogue() []eventType {
	ev := func(t, group, desc string, data map[string]any) eventType {
		return eventType{Type: t, Group: group, Description: desc, Example: data}
	}
	seg := map[string]any{"id": "seg-1", "name": "Newsletter"}
	return []eventType{
		ev("contact.created", "Contact", "a contact was created", map[string]any{"contact": contact()}),
		ev("contact.updated", "Contact", "contact fields changed", map[string]any{"contact": contact(), "changed": []any{"email"}}),
		ev("contact.segment.added", "Contact", "contact joined a segment", map[string]any{"contact": contact(), "segment": seg}),
		ev("contact.segment.removed", "Contact", "contact left a segment", map[string]any{"contact": contact(), "segment": seg}),
		ev("contact.tag.added", "Contact", "a tag was added", map[string]any{"contact": contact(), "tag": "VIP"}),
		ev("contact.tag.removed", "Contact", "a tag was removed", map[string]any{"contact": contact(), "tag": "VIP"}),
		ev("conversation.started", "Conversation", "a conversation opened", map[string]any{"conversation": conversation(), "contact": contact()}),
		ev("conversation.ended", "Conversation", "a conversation closed", map[string]any{"conversation": map[string]any{"id": "conv-7", "contactId": "c-42", "channel": "chat", "durationSeconds": 240}, "contact": contact()}),
		ev("message.received", "Conversation", "a contact sent a message", map[string]any{"message": map[string]any{"id": "m-1", "contactId": "c-42", "conversationId": "conv-7", "text": "This is not working at all", "sentiment": map[string]any{"score": 0.12, "label": "negative"}}, "contact": contact()}),
		ev("conversation.escalation.requested", "Conversation", "a contact asked for a person", map[string]any{"conversation": conversation(), "contact": contact(), "reason": "wants a human"}),
		ev("conversation.sentiment.detected", "Conversation", "sentiment analysed for a conversation", map[string]any{"conversation": map[string]any{"id": "conv-7", "contactId": "c-42", "channel": "chat", "sentiment": map[string]any{"score": 0.2, "label": "negative"}}, "contact": contact()}),
		ev("lead.created", "CRM", "a lead was created", map[string]any{"lead": map[string]any{"id": "l-9", "contactId": "c-42", "source": "Website", "status": "New"}, "contact": contact()}),
		ev("lead.status.changed", "CRM", "a lead moved", map[string]any{"lead": map[string]any{"id": "l-9", "contactId": "c-42", "status": "Won", "previousStatus": "New"}, "contact": contact()}),
		ev("ticket.created", "CRM", "a ticket was opened", map[string]any{"ticket": map[string]any{"id": "t-3", "contactId": "c-42", "title": "Login fails", "priority": "High", "status": "Open"}, "contact": contact()}),
		ev("ticket.status.changed", "CRM", "a ticket moved", map[string]any{"ticket": map[string]any{"id": "t-3", "contactId": "c-42", "status": "Closed", "previousStatus": "Open"}, "contact": contact()}),
		ev("appointment.booked", "CRM", "an appointment was booked", map[string]any{"appointment": map[string]any{"id": "a-5", "contactId": "c-42", "startTime": "2027-01-10T15:00:00Z", "endTime": "2027-01-10T15:30:00Z", "with": "Sam"}, "contact": contact()}),
		ev("appointment.cancelled", "CRM", "an appointment was cancelled", map[string]any{"appointment": map[string]any{"id": "a-5", "contactId": "c-42", "startTime": "2027-01-10T15:00:00Z", "reason": "ill"}, "contact": contact()}),
	}
}

// exampleFor is the catalogue's example data for an event type (a contact
// for custom types).
func exampleFor(eventType string) map[string]any {
	for _, e := range eventCatalogue() {
		if e.Type == eventType {
			return e.Example
		}
	}
	return map[string]any{"contact": contact()}
}

func actionCatalogue() []action {
	f := func(name, label, kind string) actionField { return actionField{Name: name, Label: label, Kind: kind} }
	req := func(a actionField) actionField { a.Required = true; return a }
	sel := func(name, label string, opts ...string) actionField {
		return actionField{Name: name, Label: label, Kind: "select", Options: opts}
	}
	contactID := f("contactId", "Contact id (default: the run's subject)", "text")
	return []action{
		{Kind: "updateContact", Group: "Contact", Label: "Update contact", Fields: []actionField{contactID, req(f("fields", "Fields (name: value per line)", "map"))}},
		{Kind: "addTags", Group: "Contact", Label: "Add tags", Fields: []actionField{contactID, req(f("tags", "Tags (one per line)", "list"))}},
		{Kind: "removeTags", Group: "Contact", Label: "Remove tags", Fields: []actionField{contactID, req(f("tags", "Tags (one per line)", "list"))}},
		{Kind: "addToSegment", Group: "Contact", Label: "Add to segment", Fields: []actionField{contactID, req(f("segment", "Segment", "text"))}},
		{Kind: "removeFromSegment", Group: "Contact", Label: "Remove from segment", Fields: []actionField{contactID, req(f("segment", "Segment", "text"))}},
		{Kind: "assignContact", Group: "Contact", Label: "Assign contact", Fields: []actionField{contactID, f("user", "User", "text"), f("team", "Team", "text")}},
		{Kind: "sendEmail", Group: "Communication", Label: "Send email", Fields: []actionField{req(f("to", "To", "text")), f("cc", "Cc (one per line)", "list"), f("from", "From", "text"), f("replyTo", "Reply-To", "text"), req(f("subject", "Subject", "text")), req(f("body", "Body", "textarea")), f("html", "HTML body", "textarea")}},
		{Kind: "sendSMS", Group: "Communication", Label: "Send SMS", Fields: []actionField{req(f("to", "To", "text")), req(f("body", "Body", "textarea"))}},
		{Kind: "notify", Group: "Communication", Label: "Notify team", Fields: []actionField{f("channel", "Channel", "text"), req(f("message", "Message", "textarea")), f("webhookURLSecretRef", "Webhook URL Secret (default: the workflow's notify connection)", "secretKey")}},
		{Kind: "createTask", Group: "Communication", Label: "Create task", Fields: []actionField{req(f("title", "Title", "text")), f("description", "Description", "textarea"), f("assignee", "Assignee", "text"), f("dueIn", "Due in", "duration"), contactID}},
		{Kind: "createLead", Group: "CRM", Label: "Create lead", Fields: []actionField{contactID, f("source", "Source", "text"), f("status", "Status", "text"), f("fields", "Fields (name: value per line)", "map")}},
		{Kind: "updateLeadStatus", Group: "CRM", Label: "Update lead status", Fields: []actionField{f("leadId", "Lead id", "text"), req(f("status", "Status", "text"))}},
		{Kind: "createTicket", Group: "CRM", Label: "Create ticket", Fields: []actionField{contactID, req(f("title", "Title", "text")), f("description", "Description", "textarea"), sel("priority", "Priority", "", "Low", "Normal", "High", "Urgent"), f("team", "Team", "text")}},
		{Kind: "assignTicket", Group: "CRM", Label: "Assign ticket", Fields: []actionField{f("ticketId", "Ticket id", "text"), f("user", "User", "text"), f("team", "Team", "text")}},
		{Kind: "callWebhook", Group: "Integration", Label: "Call webhook", Fields: []actionField{f("url", "URL", "text"), f("urlFrom", "URL from Secret", "secretKey"), sel("method", "Method", "", "GET", "POST", "PUT", "PATCH", "DELETE"), f("body", "Body", "textarea")}},
		{Kind: "updateExternalCRM", Group: "Integration", Label: "Update external CRM", Fields: []actionField{f("system", "System", "text"), f("url", "URL", "text"), f("urlFrom", "URL from Secret", "secretKey"), req(f("object", "Object", "text")), req(f("recordId", "Record id", "text")), req(f("fields", "Fields (name: value per line)", "map"))}},
		{Kind: "triggerZapier", Group: "Integration", Label: "Trigger Zapier", Fields: []actionField{req(f("hookURLSecretRef", "Hook URL Secret", "secretKey")), f("data", "Data (name: value per line)", "map")}},
		{Kind: "wait", Group: "Flow", Label: "Wait", Fields: []actionField{f("duration", "Duration (e.g. 1h, 2d)", "duration"), f("until", "Until (CEL timestamp)", "cel")}},
		{Kind: "waitForEvent", Group: "Flow", Label: "Wait for event (reply)", Fields: []actionField{req(f("types", "Event types (one per line)", "eventTypes")), f("filter", "Filter (CEL)", "cel"), req(f("timeout", "Timeout (e.g. 2d)", "duration"))}},
		{Kind: "branch", Group: "Flow", Label: "Branch (if / else)", Fields: []actionField{req(f("if", "If (CEL)", "cel")), req(f("then", "Then go to step", "step")), f("else", "Else go to step", "step")}},
		{Kind: "end", Group: "Flow", Label: "End", Fields: []actionField{sel("result", "Result", "", "Succeeded", "Failed"), f("reason", "Reason", "text"), f("message", "Message", "text")}},
	}
}

var operators = []string{"Equals", "NotEquals", "Contains", "NotContains", "In", "NotIn", "Exists", "NotExists",
	"GreaterThan", "LessThan", "Matches", "Before", "After"}

func (s *Server) catalogue(w http.ResponseWriter, _ *http.Request) error {
	return writeJSON(w, http.StatusOK, catalogueAnswer{Events: eventCatalogue(), Operators: operators, Actions: actionCatalogue()})
}

// knownEventType reports whether t is in the catalogue.
func knownEventType(t string) bool {
	for _, e := range eventCatalogue() {
		if e.Type == t {
			return true
		}
	}
	return false
}

// mustJSON encodes v (a value built here, always encodable).
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
