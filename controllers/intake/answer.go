package intake

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// problem is the JSON body of every 4xx and 5xx answer.
type problem struct {
	Error string `json:"error"`
}

// Answer is the JSON body of a 202: what became of each event.
type Answer struct {
	// Events are the results in request order.
	Events []EventResult `json:"events"`
}

// EventResult says what one event did.
type EventResult struct {
	ID     string `json:"id"`
	Source string `json:"source"`
	// Enrolled lists the runs this event created.
	Enrolled []RunRef `json:"enrolled,omitempty"`
	// Rescheduled lists date-triggered runs moved to the event's new date.
	Rescheduled []RunRef `json:"rescheduled,omitempty"`
	// Dropped lists date-triggered runs removed because the date was cleared or passed.
	Dropped []RunRef `json:"dropped,omitempty"`
	// Delivered lists runs the event was appended to (status.pendingEvents).
	Delivered []string `json:"delivered,omitempty"`
	// Skipped lists workflows listening to the type that did not enroll, and why.
	Skipped []Skip `json:"skipped,omitempty"`
	// Note, when set, says why the event did nothing: no workflow of the
	// namespace listens to its type (and source), and no run was waiting
	// for it. A hint for a misspelt type or namespace, not an error.
	Note string `json:"note,omitempty"`
}

// RunRef names a run and its workflow.
type RunRef struct {
	Workflow string `json:"workflow"`
	Run      string `json:"run"`
}

// Skip is one workflow that did not enroll, with a SkipCount reason.
type Skip struct {
	Workflow string              `json:"workflow"`
	Reason   v1alpha1.SkipReason `json:"reason"`
	Message  string              `json:"message,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func writeProblem(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, problem{Error: msg})
}

func writeUnavailable(w http.ResponseWriter, retryAfterSeconds int, msg string) {
	w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	writeProblem(w, http.StatusServiceUnavailable, msg)
}
