package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// apiError is an API answer other than 2xx: a message for people and, for
// validation failures, one entry per offending field.
type apiError struct {
	status int
	// Message says what went wrong.
	Message string `json:"message"`
	// Reason is the Kubernetes status reason when the API server answered.
	Reason string `json:"reason,omitempty"`
	// Fields lists problems by field path (spec.steps[1].notify.message).
	Fields []fieldProblem `json:"fields,omitempty"`
}

// fieldProblem is one problem on one field.
type fieldProblem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *apiError) Error() string { return e.Message }

func fieldError(status int, field, msg string) *apiError {
	return &apiError{status: status, Message: field + ": " + msg, Fields: []fieldProblem{{Field: field, Message: msg}}}
}

// apiHandler turns a handler's error into a JSON answer; API answers are
// never cached.
func apiHandler(h func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if err := h(w, r); err != nil {
			writeError(w, err)
		}
	})
}

func writeError(w http.ResponseWriter, err error) {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
	case errors.Is(err, errSignIn):
		ae = &apiError{status: http.StatusUnauthorized, Message: err.Error()}
	default:
		ae = &apiError{status: http.StatusInternalServerError, Message: err.Error()}
	}
	_ = writeJSON(w, ae.status, ae)
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		return fmt.Errorf("write answer: %w", err)
	}
	return nil
}

// decodeJSON reads a JSON body into v, refusing unknown fields, oversized
// bodies (413) and anything that is not JSON (400), with a message that
// says which.
func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &apiError{status: http.StatusRequestEntityTooLarge,
				Message: fmt.Sprintf("the request is larger than %d KiB; nothing was changed", mbe.Limit/1024)}
		}
		return &apiError{status: http.StatusBadRequest, Message: "the request is not valid JSON: " + err.Error()}
	}
	if _, err := dec.Token(); err != io.EOF {
		return &apiError{status: http.StatusBadRequest, Message: "the request holds more than one JSON value"}
	}
	return nil
}

// kubeError relays an API server error with its status code, and its causes
// as field problems (spec.conditions[1].expression), so the app shows each on
// its field; what says which call failed when the error is not the API server's.
// A request client-go refused to send because its namespace or name is not
// valid (clientSideInvalid) is the caller's mistake: 400, not 500.
func kubeError(err error, what string) error {
	var se apierrors.APIStatus
	if !errors.As(err, &se) {
		if what != "" {
			err = fmt.Errorf("%s: %w", what, err)
		}
		if clientSideInvalid(err) {
			return &apiError{status: http.StatusBadRequest, Reason: string(metav1.StatusReasonBadRequest), Message: err.Error()}
		}
		return err
	}
	st := se.Status()
	ae := &apiError{status: int(st.Code), Message: st.Message, Reason: string(st.Reason)}
	if ae.status == 0 {
		ae.status = http.StatusInternalServerError
	}
	if st.Details != nil {
		for _, c := range st.Details.Causes {
			ae.Fields = append(ae.Fields, fieldProblem{Field: c.Field, Message: causeMessage(c)})
		}
	}
	return ae
}

func causeMessage(c metav1.StatusCause) string {
	if c.Message != "" {
		return c.Message
	}
	return string(c.Type)
}

// clientSideMessages start the errors client-go's REST request returns,
// without sending it, for a namespace or resource name it refuses
// (k8s.io/client-go/rest: Request.Namespace, Request.Name and the request's
// preflight check). client-go gives them no type of their own.
var clientSideMessages = []string{
	"invalid namespace ",
	"invalid resource name ",
	"resource name may not be empty",
	"an empty namespace may not be set",
}

// clientSideInvalid reports whether err, or an error it wraps, is one of
// client-go's refusals to send a request with an invalid namespace or name.
func clientSideInvalid(err error) bool {
	for ; err != nil; err = errors.Unwrap(err) {
		for _, m := range clientSideMessages {
			if strings.HasPrefix(err.Error(), m) {
				return true
			}
		}
	}
	return false
}
