package request

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/crmflow/crmflow/runner/cloudevents"
)

// Error is a refusal of a request: the HTTP status to answer and a message
// for the sender that names the offending header, attribute or value.
type Error struct {
	// Status is the HTTP status code, 4xx.
	Status int
	// Message is for the sender, e.g. `missing required attribute "source"`.
	Message string
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// errorf builds an *Error.
func errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Message: fmt.Sprintf(format, args...)}
}

// statusOfReason is intake's answer to each reason the codec refuses an
// event for.
var statusOfReason = map[cloudevents.Reason]int{
	cloudevents.Malformed:   http.StatusBadRequest,
	cloudevents.TooLarge:    http.StatusRequestEntityTooLarge,
	cloudevents.Unsupported: http.StatusUnsupportedMediaType,
}

// refusal turns a codec refusal into an *Error with intake's status for its
// reason; other errors are returned as they are.
func refusal(err error) error {
	var ce *cloudevents.Error
	if !errors.As(err, &ce) {
		return err
	}
	status, ok := statusOfReason[ce.Reason]
	if !ok {
		status = http.StatusBadRequest
	}
	return &Error{Status: status, Message: ce.Message}
}

// StatusOf returns the HTTP status an error should be answered with: the
// *Error's own, else 500.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return http.StatusInternalServerError
}
