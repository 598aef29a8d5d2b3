package servers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// Request is one HTTP request as the server received it.
type Request struct {
	// Seq orders records across every server of the process (see package doc).
	Seq    uint64
	Method string
	Path   string
	// Query is the raw query string, without '?'.
	Query  string
	Header http.Header
	Body   []byte
}

// JSON decodes the body as a JSON object.
func (r Request) JSON() (map[string]any, error) {
	m := map[string]any{}
	if err := json.Unmarshal(r.Body, &m); err != nil {
		return nil, fmt.Errorf("decode body of %s %s as a JSON object: %w", r.Method, r.Path, err)
	}
	return m, nil
}

// CloudEvent parses the request with the CloudEvents SDK (binary or
// structured content mode), as a CloudEvents receiver would.
func (r Request) CloudEvent() (*event.Event, error) {
	req, err := http.NewRequestWithContext(context.Background(), r.Method, "http://127.0.0.1"+r.Path, bytes.NewReader(r.Body))
	if err != nil {
		return nil, fmt.Errorf("rebuild request %s %s: %w", r.Method, r.Path, err)
	}
	req.Header = r.Header.Clone()
	ev, err := cehttp.NewEventFromHTTPRequest(req)
	if err != nil {
		return nil, fmt.Errorf("parse %s %s as a CloudEvent: %w", r.Method, r.Path, err)
	}
	return ev, nil
}

// Responder answers the n-th request (0-based, counting every request the
// server received). The request body can be read again.
type Responder func(n int, w http.ResponseWriter, r *http.Request)

// Answer returns a Responder that always answers status with body and the
// given header key/value pairs.
func Answer(status int, body string, headerKV ...string) Responder {
	return func(_ int, w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(headerKV); i += 2 {
			w.Header().Set(headerKV[i], headerKV[i+1])
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// failure is a pending FailNext instruction.
type failure struct {
	prefix     string
	left       int
	status     int
	retryAfter string
}

// HTTP is a real HTTP server on 127.0.0.1 that records every request. Close
// it when done (the embedded httptest.Server's Close).
type HTTP struct {
	*httptest.Server

	mu      sync.Mutex
	reqs    []Request
	respond Responder
	fails   []*failure
}

// NewHTTP starts a recording HTTP server that answers with respond; a nil
// respond answers 200 OK with an empty body.
func NewHTTP(respond Responder) *HTTP {
	h := &HTTP{respond: respond}
	h.Server = httptest.NewServer(http.HandlerFunc(h.serve))
	return h
}

func (h *HTTP) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	n := len(h.reqs)
	h.reqs = append(h.reqs, Request{
		Seq: nextSeq(), Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body,
	})
	fail := h.takeFailure(r.URL.Path)
	respond := h.respond
	h.mu.Unlock()

	if fail != nil {
		if fail.retryAfter != "" {
			w.Header().Set("Retry-After", fail.retryAfter)
		}
		http.Error(w, "try later", fail.status)
		return
	}
	if respond == nil {
		w.WriteHeader(http.StatusOK)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	respond(n, w, r)
}

// takeFailure consumes one pending failure for path; h.mu must be held.
func (h *HTTP) takeFailure(path string) *failure {
	for _, f := range h.fails {
		if f.left > 0 && strings.HasPrefix(path, f.prefix) {
			f.left--
			return f
		}
	}
	return nil
}

// Respond replaces the Responder for the requests that follow.
func (h *HTTP) Respond(respond Responder) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.respond = respond
}

// FailNext makes the next n requests whose path starts with prefix ("" for
// every path) fail with status and, unless retryAfter is empty, a
// Retry-After header. The failed requests are recorded like any other.
func (h *HTTP) FailNext(prefix string, n, status int, retryAfter string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, f := range h.fails {
		if f.prefix == prefix {
			f.left, f.status, f.retryAfter = n, status, retryAfter
			return
		}
	}
	h.fails = append(h.fails, &failure{prefix: prefix, left: n, status: status, retryAfter: retryAfter})
}

// Requests returns a copy of every request received so far, in arrival order.
func (h *HTTP) Requests() []Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Request(nil), h.reqs...)
}

// Under returns the requests received on paths starting with prefix.
func (h *HTTP) Under(prefix string) []Request {
	var out []Request
	for _, r := range h.Requests() {
		if strings.HasPrefix(r.Path, prefix) {
			out = append(out, r)
		}
	}
	return out
}
