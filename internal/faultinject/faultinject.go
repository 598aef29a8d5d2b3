// Package faultinject makes the manager's API writes fail on purpose, for
// the fault suite (test/fault): seeded, and off unless the environment
// variable EnvVar is set. It wraps the rest.Config transport, so every
// client built from that config (controllers, intake, caches) sees the
// faults; reads are never touched.
package faultinject

import (
	"context"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"k8s.io/client-go/rest"
)

// EnvVar turns injection on: "seed=7,rate=0.05" makes about 5% of API
// writes (POST, PUT, PATCH, DELETE) fail, chosen by a generator seeded 7.
const EnvVar = "CRMFLOW_FAULT_INJECTION"

// Kinds of injected faults.
const (
	// TimeoutBefore fails the write with a timeout without sending it.
	TimeoutBefore = "timeout-before-send"
	// UnavailableBefore answers 503 without sending the write.
	UnavailableBefore = "503-before-send"
	// TimeoutAfter sends the write (it is applied) and then fails with a timeout.
	TimeoutAfter = "timeout-after-apply"
	// ConflictAfter sends the write (it is applied) and then answers 409 Conflict.
	ConflictAfter = "conflict-after-apply"
)

var kinds = []string{TimeoutBefore, UnavailableBefore, TimeoutAfter, ConflictAfter}

// Spec configures injection.
type Spec struct {
	// Seed seeds the generator that picks the writes and the faults.
	Seed int64
	// Rate is the probability that one write fails, in [0, 1].
	Rate float64
}

// Parse reads "seed=<int>,rate=<float>".
func Parse(s string) (Spec, error) {
	var sp Spec
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return sp, fmt.Errorf("%s: %q is not key=value", EnvVar, kv)
		}
		var err error
		switch k {
		case "seed":
			sp.Seed, err = strconv.ParseInt(v, 10, 64)
		case "rate":
			sp.Rate, err = strconv.ParseFloat(v, 64)
			if err == nil && (sp.Rate < 0 || sp.Rate > 1) {
				err = fmt.Errorf("not in [0, 1]")
			}
		default:
			err = fmt.Errorf("unknown key")
		}
		if err != nil {
			return sp, fmt.Errorf("%s: %s=%q: %w", EnvVar, k, v, err)
		}
	}
	return sp, nil
}

// Wrap makes cfg's transport inject faults into API writes, logging one
// line per fault to log ("faultinject: <kind> <method> <path>").
func Wrap(cfg *rest.Config, sp Spec, log io.Writer) {
	inj := &injector{rnd: rand.New(rand.NewSource(sp.Seed)), rate: sp.Rate, log: log}
	cfg.Wrap(func(next http.RoundTripper) http.RoundTripper {
		return roundTripper{inj: inj, next: next}
	})
}

// injector is shared by every transport built from the config.
type injector struct {
	mu   sync.Mutex
	rnd  *rand.Rand
	rate float64
	log  io.Writer
}

// pick decides whether this write fails, and how.
func (i *injector) pick() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.rnd.Float64() >= i.rate {
		return ""
	}
	return kinds[i.rnd.Intn(len(kinds))]
}

type roundTripper struct {
	inj  *injector
	next http.RoundTripper
}

func (t roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	switch req.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return t.next.RoundTrip(req)
	}
	kind := t.inj.pick()
	if kind == "" {
		return t.next.RoundTrip(req)
	}
	fmt.Fprintf(t.inj.log, "faultinject: %s %s %s\n", kind, req.Method, req.URL.Path)
	if kind == TimeoutAfter || kind == ConflictAfter {
		resp, err := t.next.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	switch kind {
	case TimeoutBefore, TimeoutAfter:
		return nil, fmt.Errorf("faultinject: %s: %w", kind, context.DeadlineExceeded)
	case UnavailableBefore:
		return status(req, http.StatusServiceUnavailable, "ServiceUnavailable"), nil
	default:
		return status(req, http.StatusConflict, "Conflict"), nil
	}
}

// status is a Kubernetes Status answer.
func status(req *http.Request, code int, reason string) *http.Response {
	body := fmt.Sprintf(`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"faultinject: injected %d","reason":%q,"code":%d}`, code, reason, code)
	return &http.Response{
		Status: strconv.Itoa(code) + " " + http.StatusText(code), StatusCode: code,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": []string{"application/json"}},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}
