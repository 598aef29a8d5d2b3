// Package catalogue is crmflow's event catalogue as data: every catalogue
// CloudEvents type with what it means and an example payload. docs/events.md
// shows the same examples (test/docs keeps the two equal), and `kubectl
// crmflow test` uses them when no real event is at hand.
package catalogue

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// ExampleSubject is the contact every example is about.
const ExampleSubject = "c-42"

// Entry is one catalogue event type.
type Entry struct {
	// Type is the CloudEvents type.
	Type string
	// When says when a CRM sends it.
	When string
	// Data is an example payload (a JSON object).
	Data string
}

const contact = `"contact": {"id": "c-42", "firstName": "Ann", "lastName": "Lee", "email": "ann@example.com", "phone": "+15550100", "tags": ["VIP"], "country": "US"}`

// Entries lists the catalogue in the order docs/events.md shows it.
var Entries = []Entry{
	{"contact.created", "a contact was created",
		`{"contact": {"id": "c-42", "firstName": "Ann", "lastName": "Lee", "email": "ann@example.com", "phone": "+15550100", "tags": ["VIP"], "country": "US", "renewalDate": "2026-04-01"}}`},
	{"contact.updated", "contact fields changed (contact holds the new state)",
		`{"contact": {"id": "c-42", "firstName": "Ann", "lastName": "Lee", "email": "ann@example.com", "tags": ["VIP"], "renewalDate": "2026-05-01"}, "changed": ["renewalDate"]}`},
	{"contact.segment.added", "a contact joined a segment",
		`{` + contact + `, "segment": {"id": "seg-1", "name": "Newsletter"}}`},
	{"contact.segment.removed", "a contact left a segment",
		`{` + contact + `, "segment": {"id": "seg-1", "name": "Newsletter"}}`},
	{"contact.tag.added", "a tag was added to a contact",
		`{` + contact + `, "tag": "VIP"}`},
	{"contact.tag.removed", "a tag was removed from a contact",
		`{` + contact + `, "tag": "Trial"}`},
	{"conversation.started", "a conversation opened",
		`{"conversation": {"id": "conv-1", "contactId": "c-42", "channel": "chat"}, ` + contact + `}`},
	{"conversation.ended", "a conversation closed",
		`{"conversation": {"id": "conv-1", "contactId": "c-42", "channel": "chat", "durationSeconds": 340}, ` + contact + `}`},
	{"message.received", "a contact sent a message",
		`{"message": {"id": "m-1", "contactId": "c-42", "conversationId": "conv-1", "text": "This is the third time I ask.", "sentiment": {"score": 0.12, "label": "negative"}}, ` + contact + `}`},
	{"conversation.escalation.requested", "a contact asked for a person",
		`{"conversation": {"id": "conv-1", "contactId": "c-42", "channel": "chat"}, ` + contact + `, "reason": "billing question"}`},
	{"conversation.sentiment.detected", "sentiment was analysed for a conversation",
		`{"conversation": {"id": "conv-1", "contactId": "c-42", "channel": "chat", "sentiment": {"score": 0.2, "label": "negative"}}, ` + contact + `}`},
	{"lead.created", "a lead was created",
		`{"lead": {"id": "l-1", "contactId": "c-42", "source": "Website", "status": "New"}, ` + contact + `}`},
	{"lead.status.changed", "a lead moved to another status",
		`{"lead": {"id": "l-1", "contactId": "c-42", "status": "Won", "previousStatus": "Qualified"}, ` + contact + `}`},
	{"ticket.created", "a ticket was opened",
		`{"ticket": {"id": "t-1", "contactId": "c-42", "title": "Cannot log in", "priority": "High", "status": "Open"}, ` + contact + `}`},
	{"ticket.status.changed", "a ticket moved to another status",
		`{"ticket": {"id": "t-1", "contactId": "c-42", "status": "Solved", "previousStatus": "Open"}, ` + contact + `}`},
	{"appointment.booked", "an appointment was booked",
		`{"appointment": {"id": "a-1", "contactId": "c-42", "startTime": "2026-03-05T14:00:00Z", "endTime": "2026-03-05T14:30:00Z", "with": "sales-rep-1"}, ` + contact + `}`},
	{"appointment.cancelled", "an appointment was cancelled",
		`{"appointment": {"id": "a-1", "contactId": "c-42", "startTime": "2026-03-05T14:00:00Z", "reason": "rescheduling"}, ` + contact + `}`},
}

// Lookup returns the entry of an event type.
func Lookup(eventType string) (Entry, bool) {
	for _, e := range Entries {
		if e.Type == eventType {
			return e, true
		}
	}
	return Entry{}, false
}

// Pretty is the example payload as docs/events.md shows it: one top-level
// key per line, in the order written here.
func (e Entry) Pretty() (string, error) {
	dec := json.NewDecoder(strings.NewReader(e.Data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", fmt.Errorf("example of %s is not a JSON object", e.Type)
	}
	var lines []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return "", fmt.Errorf("example of %s: %w", e.Type, err)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return "", fmt.Errorf("example of %s: %w", e.Type, err)
		}
		key, _ := json.Marshal(k)
		lines = append(lines, "  "+string(key)+": "+string(v))
	}
	return "{\n" + strings.Join(lines, ",\n") + "\n}", nil
}

// Event is the example as a CloudEvent about subject (its contact id
// replaced), sent at at. An empty subject keeps ExampleSubject.
func (e Entry) Event(subject string, at time.Time) *v1alpha1.CloudEvent {
	data := e.Data
	if subject != "" && subject != ExampleSubject {
		quoted, _ := json.Marshal(subject)
		data = string(bytes.ReplaceAll([]byte(data), []byte(`"`+ExampleSubject+`"`), quoted))
	} else {
		subject = ExampleSubject
	}
	t := metav1.NewTime(at)
	return &v1alpha1.CloudEvent{
		ID: "example-" + e.Type, Source: "crmflow/catalogue", Type: e.Type,
		Subject: subject, Time: &t, DataContentType: "application/json",
		Data: &runtime.RawExtension{Raw: []byte(data)},
	}
}

// Suggest returns the catalogue type that eventType is most likely a typo of
// (ticket.create → ticket.created, Ticket.Created → ticket.created): the
// nearest by edit distance, ignoring case, at most 2 edits away. It returns
// false for a catalogue type and for a type far from all of them (a custom
// type is legal and gets no suggestion).
func Suggest(eventType string) (string, bool) {
	if _, ok := Lookup(eventType); ok || eventType == "" {
		return "", false
	}
	lower := strings.ToLower(eventType)
	best, bestDist := "", 3
	for _, e := range Entries {
		if d := editDistance(lower, e.Type, bestDist); d < bestDist {
			best, bestDist = e.Type, d
		}
	}
	return best, best != ""
}

// editDistance is the Levenshtein distance of a and b, or limit when it is
// at least limit (types are short; this runs at admission only).
func editDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d >= limit || -d >= limit {
		return limit
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return min(prev[len(b)], limit)
}
