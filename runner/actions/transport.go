package actions

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/net/http/httpguts"
	"k8s.io/utils/clock"

	"github.com/crmflow/crmflow/runner/jsonvalue"
)

// maxRetryAfter caps a server's Retry-After so a silly value cannot park a
// step for years; the engine's retry policy may cap it further.
const maxRetryAfter = 24 * time.Hour

// maxDrain is how much of an over-long response body is read and discarded
// so the connection can be reused.
const maxDrain = 64 << 10

// excerptBytes of an error response body are quoted in the error message.
const excerptBytes = 200

// transport sends HTTP requests for every HTTP-based executor and classifies
// their answers into Result outputs and *Error values.
type transport struct {
	egress *egress
	// egressErr is a bad EgressPolicy: every request fails with it.
	egressErr error
	client    *http.Client
	maxBytes  int
	clock     clock.PassiveClock
	agent     string
}

// target describes one HTTP request for messages and classification.
type target struct {
	kind   Kind
	method string
	// display is the redacted URL used in messages.
	display string
	// secret marks a URL that is a credential as a whole: messages show
	// only the scheme and host of it, and of any Location it answers.
	secret bool
	// success are the accepted statuses; empty means any 2xx.
	success []int
}

func (t target) String() string {
	return fmt.Sprintf("%s %s %s", t.kind, t.method, t.display)
}

// redact returns raw as messages may show it for this target.
func (t target) redact(raw string) string {
	if t.secret {
		return RedactSecretURL(raw)
	}
	return RedactURL(raw)
}

// response is what came back, the body capped at transport.maxBytes.
type response struct {
	status    int
	header    http.Header
	body      []byte
	truncated bool
}

// checkURL accepts absolute http and https URLs. Its errors never quote the
// URL, which may be a credential.
func checkURL(field, raw string) error {
	if raw == "" {
		return fmt.Errorf("%s is required", field)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s is not a valid URL", field)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%s must be an http or https URL, got scheme %q", field, u.Scheme)
	}
	if u.Host == "" {
		return fmt.Errorf("%s has no host", field)
	}
	return nil
}

// newRequest builds a request carrying the Idempotency-Key and User-Agent headers.
func (t *transport) newRequest(ctx context.Context, tg target, rawURL, key string, body []byte) (*http.Request, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, tg.method, rawURL, r)
	if err != nil {
		// The error text of NewRequest quotes the URL: leave it out.
		return nil, permanent(fmt.Errorf("%s: cannot build request: invalid method or URL", tg))
	}
	req.Header.Set("User-Agent", t.agent)
	req.Header.Set(HeaderIdempotencyKey, key)
	return req, nil
}

// roundTrip sends req and classifies the outcome. A status outside tg.success
// is an *Error: retryable for 408, 429 and 5xx, permanent otherwise, with the
// server's Retry-After. Network failures and timeouts are retryable.
func (t *transport) roundTrip(req *http.Request, tg target) (response, error) {
	if t.egressErr != nil {
		return response{}, permanent(fmt.Errorf("%s: the manager's egress policy is invalid: %w", tg, t.egressErr))
	}
	if err := t.egress.checkURL(req.URL); err != nil {
		return response{}, permanent(fmt.Errorf("%s: %w", tg, err))
	}
	if err := checkHeaderValues(req.Header); err != nil {
		return response{}, permanent(fmt.Errorf("%s: %w", tg, err))
	}
	resp, err := t.client.Do(req)
	if err != nil {
		wrapped := fmt.Errorf("%s: %w", tg, networkError(req.Context(), err))
		var refused *EgressError
		if untrustedCertificate(err) || errors.As(err, &refused) {
			return response{}, permanent(wrapped)
		}
		return response{}, transient(wrapped)
	}
	defer func() { _ = resp.Body.Close() }()

	body, truncated, readErr := readCapped(resp.Body, t.maxBytes)
	out := response{status: resp.StatusCode, header: resp.Header, body: body, truncated: truncated}
	if accepted(resp.StatusCode, tg.success) {
		if readErr != nil {
			return out, transient(fmt.Errorf("%s: read response: %w", tg, networkError(req.Context(), readErr)))
		}
		return out, nil
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return out, &Error{StatusCode: resp.StatusCode, Err: redirectFailure(tg, resp.StatusCode, resp.Header.Get("Location"), resp.Request.URL)}
	}
	return out, &Error{
		Retryable:  retryableStatus(resp.StatusCode),
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), t.clock.Now()),
		StatusCode: resp.StatusCode,
		Err:        fmt.Errorf("%s: %s%s", tg, statusText(resp.StatusCode), excerpt(body)),
	}
}

// checkHeaderValues refuses a header value net/http would refuse to send,
// such as a token read from a Secret with a trailing newline: no attempt
// can fix it, so it must not be retried as a network failure. The value
// may be a secret: the error names the header only.
func checkHeaderValues(h http.Header) error {
	for name, values := range h {
		for _, v := range values {
			if !httpguts.ValidHeaderFieldValue(v) {
				return fmt.Errorf("header %q has an invalid value (control characters, e.g. a trailing newline in a Secret)", name)
			}
		}
	}
	return nil
}

// networkError strips the URL that *url.Error quotes (it may carry a
// credential) and names a timeout plainly.
func networkError(ctx context.Context, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("timed out: %w", context.DeadlineExceeded)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("timed out: %w", err)
	}
	return err
}

// readCapped reads at most max bytes of r, reports whether there was more,
// and discards a bounded remainder so the connection can be reused.
func readCapped(r io.Reader, max int) ([]byte, bool, error) {
	body, err := io.ReadAll(io.LimitReader(r, int64(max)+1))
	truncated := len(body) > max
	if truncated {
		body = body[:max]
		_, _ = io.Copy(io.Discard, io.LimitReader(r, maxDrain))
	}
	return body, truncated, err
}

func accepted(status int, codes []int) bool {
	if len(codes) == 0 {
		return status >= 200 && status < 300
	}
	return slices.Contains(codes, status)
}

// retryableStatus: 408 Request Timeout, 429 Too Many Requests and every 5xx
// may succeed later; any other refusal will not.
func retryableStatus(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

func statusText(status int) string {
	if s := http.StatusText(status); s != "" {
		return s
	}
	return "status " + strconv.Itoa(status)
}

// excerpt quotes the start of an error body, for people reading the step log.
func excerpt(body []byte) string {
	s := strings.TrimSpace(string(body))
	if s == "" {
		return ""
	}
	if len(s) > excerptBytes {
		s = s[:excerptBytes]
		for !utf8.ValidString(s) && len(s) > 0 {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	return ": " + strconv.Quote(s)
}

// parseRetryAfter reads a Retry-After value: delta-seconds or an HTTP date
// (relative to now). Anything else, or a time in the past, is zero.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		return time.Duration(secs) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil {
		d := at.Sub(now)
		if d <= 0 {
			return 0
		}
		return min(d, maxRetryAfter)
	}
	return 0
}

// output turns a response into a step output: {"status", "headers", "body"}
// with the body parsed as JSON when it is JSON, a string otherwise, and
// "truncated": true when it was cut at the cap.
func (r response) output() map[string]any {
	out := map[string]any{"status": r.status}
	headers := map[string]any{}
	for _, h := range []string{"Content-Type", "Location"} {
		if v := r.header.Get(h); v != "" {
			headers[strings.ToLower(h)] = v
		}
	}
	if len(headers) > 0 {
		out["headers"] = headers
	}
	out["body"] = decodeBody(r.body, r.header.Get("Content-Type"), r.truncated)
	if r.truncated {
		out["truncated"] = true
	}
	return out
}

// decodeBody parses JSON bodies (by media type, or by content when the type
// is missing); everything else, and a truncated body, is kept as a string.
func decodeBody(body []byte, contentType string, truncated bool) any {
	if len(body) == 0 {
		return ""
	}
	if !truncated && isJSON(contentType, body) {
		// An id above 2^53 that a later step reads stays exact.
		if v, err := jsonvalue.Unmarshal(body); err == nil {
			return v
		}
	}
	return strings.ToValidUTF8(string(body), "\uFFFD")
}

func isJSON(contentType string, body []byte) bool {
	if contentType == "" {
		return json.Valid(body)
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// untrustedCertificate reports a server certificate that fails verification:
// configuration, not luck, decides whether the next attempt succeeds.
func untrustedCertificate(err error) bool {
	var (
		verifyErr *tls.CertificateVerificationError
		unknownCA x509.UnknownAuthorityError
		invalid   x509.CertificateInvalidError
		hostname  x509.HostnameError
	)
	return errors.As(err, &verifyErr) || errors.As(err, &unknownCA) ||
		errors.As(err, &invalid) || errors.As(err, &hostname)
}

// CheckURL is the check a webhook-style action applies to its rendered
// URL; admission applies it to URLs that hold no template.
func CheckURL(field, raw string) error { return checkURL(field, raw) }
