package actions

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"golang.org/x/net/http/httpguts"
)

// httpCaller performs callWebhook, updateExternalCRM and triggerZapier: one
// HTTP request whose response becomes the step's output.
type httpCaller struct {
	t *transport
}

func (c *httpCaller) call(ctx context.Context, kind Kind, o Origin, h *HTTPCall) (Result, error) {
	method := h.Method
	if method == "" {
		method = http.MethodPost
	}
	tg := target{kind: kind, method: method, secret: secretURL(kind) || h.SecretURL, success: h.SuccessCodes}
	tg.display = tg.redact(h.URL)
	if err := validateHTTPCall(kind, method, h); err != nil {
		return Result{}, permanent(err)
	}

	req, err := c.t.newRequest(ctx, tg, h.URL, o.IdempotencyKey, bodyOrNil(h.Body))
	if err != nil {
		return Result{}, err
	}
	for name, value := range h.Headers {
		if http.CanonicalHeaderKey(name) == HeaderIdempotencyKey {
			continue // the step's key always wins: it is what makes retries safe
		}
		req.Header.Set(name, value)
	}
	if len(h.Body) > 0 && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}

	resp, err := c.t.roundTrip(req, tg)
	if err != nil {
		return Result{}, err
	}
	return Result{
		Message: fmt.Sprintf("%s %s answered %d", method, tg.display, resp.status),
		Output:  resp.output(),
	}, nil
}

func validateHTTPCall(kind Kind, method string, h *HTTPCall) error {
	if err := checkURL(string(kind)+" url", h.URL); err != nil {
		return err
	}
	if !httpguts.ValidHeaderFieldName(method) {
		return fmt.Errorf("%s method %q is not a valid HTTP method", kind, method)
	}
	for name, value := range h.Headers {
		if !httpguts.ValidHeaderFieldName(name) {
			return fmt.Errorf("%s header name %q is not a valid HTTP header name", kind, name)
		}
		if !httpguts.ValidHeaderFieldValue(value) {
			// The value may be a secret: name the header only.
			return fmt.Errorf("%s header %q has an invalid value (control characters)", kind, name)
		}
	}
	if len(h.Body) > 0 && jsonContent(h.Headers) && !json.Valid(h.Body) {
		return fmt.Errorf("%s body is not valid JSON", kind)
	}
	for _, code := range h.SuccessCodes {
		if code < 100 || code > 599 {
			return fmt.Errorf("%s successCodes: %d is not an HTTP status", kind, code)
		}
	}
	return nil
}

func bodyOrNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// jsonContent reports whether the body goes out as JSON: no Content-Type
// header was given, or a JSON one.
func jsonContent(headers map[string]string) bool {
	for name, value := range headers {
		if http.CanonicalHeaderKey(name) == "Content-Type" {
			return isJSON(value, nil)
		}
	}
	return true
}
