package request

import (
	"errors"
	"fmt"
	"net/http"
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

// StatusOf returns the HTTP status an error should be answered with: the
// *Error's own, else 500.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return http.StatusInternalServerError
}
