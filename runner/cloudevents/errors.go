package cloudevents

import (
	"errors"
	"fmt"
)

// Reason classifies why an event was refused, so that each receiver can
// answer in its own protocol (intake maps it to an HTTP status).
type Reason string

const (
	// Malformed is an event or data that breaks the CloudEvents format or a
	// crmflow rule (missing attribute, bad JSON, a bad extension).
	Malformed Reason = "Malformed"
	// TooLarge is a batch, an attribute or data over its limit.
	TooLarge Reason = "TooLarge"
	// Unsupported is a media type crmflow does not read (not a CloudEvent,
	// another CloudEvents format, non-JSON data).
	Unsupported Reason = "Unsupported"
)

// Error is a refusal of an event: why, and a message for the sender that
// names the offending header, attribute or value.
type Error struct {
	// Reason classifies the refusal.
	Reason Reason
	// Message is for the sender, e.g. `missing required attribute "source"`.
	Message string
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// errorf builds an *Error.
func errorf(reason Reason, format string, args ...any) *Error {
	return &Error{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// ReasonOf returns the Reason of a refusal, and false for any other error.
func ReasonOf(err error) (Reason, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason, true
	}
	return "", false
}
