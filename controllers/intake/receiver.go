package intake

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/controllers/intake/request"
	"github.com/crmflow/crmflow/controllers/revision"
	"github.com/crmflow/crmflow/runner/cloudevents"
)

// Receiver is the CloudEvents HTTP endpoint. Build it with New (or Setup,
// which also adds it to the manager); it is an http.Handler and a manager
// Runnable that serves on Options.Addr.
type Receiver struct {
	opts Options

	// client reads from the manager's cache and writes to the API server.
	client client.Client
	// live reads the API server directly, where the cache may lag: slot
	// holders, and re-reads after a conflict.
	live client.Reader
	// tenants reads Namespaces and crmflow-intake Secrets from intake's own
	// small cache (Secrets filtered by name).
	tenants client.Reader

	workflows *catalogue
	// revisions names (and creates, for a new spec) the revision runs reference.
	revisions *revision.Store
	skips     *skipRecorder
	// recent holds the runs this receiver just created, by namespace,
	// workflow and subject, for enrollment policies and date triggers.
	recent recentRuns
	// listening holds the ones whose workflow listens to events after
	// enrolling (waitForEvent steps, exit goals), by namespace and subject,
	// so that delivery finds a run the cache does not show yet.
	listening listeningRuns
	locks     keyLocks
	ready     atomic.Bool
	// synced waits for every cache the receiver reads.
	synced func(ctx context.Context) bool
}

// ServeHTTP answers POST /v1/namespaces/<namespace>/events.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	switch req.URL.Path {
	case "/healthz":
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		return
	case "/readyz":
		if !r.ready.Load() {
			writeUnavailable(w, r.retryAfterSeconds(), "caches are not synced yet")
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		return
	}
	// The escaped path: "default%2fevents" is not "default/events" (a proxy
	// that authorises by the raw path would see them differently).
	ns, ok := namespaceFromPath(req.URL.EscapedPath())
	if !ok {
		writeProblem(w, http.StatusNotFound,
			fmt.Sprintf("no such endpoint %q: post events to /v1/namespaces/<namespace>/events", req.URL.Path))
		return
	}
	// The right shape with a segment no namespace can be named (Default,
	// my_ns): say so rather than "no such endpoint" or a 401.
	if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
		writeProblem(w, http.StatusBadRequest,
			fmt.Sprintf("%q in the path is not a valid namespace name: %s", ns, strings.Join(errs, "; ")))
		return
	}
	switch req.Method {
	case http.MethodPost:
	case http.MethodOptions:
		// CloudEvents webhook validation handshake (abuse protection).
		if origin := req.Header.Get("WebHook-Request-Origin"); origin != "" {
			w.Header().Set("WebHook-Allowed-Origin", origin)
		}
		w.Header().Set("Allow", "POST, OPTIONS")
		w.WriteHeader(http.StatusOK)
		return
	default:
		w.Header().Set("Allow", "POST, OPTIONS")
		writeProblem(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed: POST events", req.Method))
		return
	}
	if !r.ready.Load() {
		writeUnavailable(w, r.retryAfterSeconds(), "receiver is starting: caches are not synced yet")
		return
	}
	answer, err := r.receive(req.Context(), ns, w, req)
	if err != nil {
		r.writeError(req.Context(), w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, answer)
}

// receive authenticates, decodes and processes one request. RequestTimeout
// bounds the API work once the body is read: a slow upload is the sender's
// (the server's ReadTimeout ends it with a 4xx), not a reason to answer 503.
func (r *Receiver) receive(ctx context.Context, ns string, w http.ResponseWriter, req *http.Request) (*Answer, error) {
	creds, err := r.credentials(ctx, ns)
	if err != nil {
		return nil, err
	}
	// A missing credential is refused before the body is read.
	if creds.Required() && !request.Presented(req.Header) {
		return nil, creds.Verify(req.Header, nil)
	}
	body, err := request.ReadBody(w, req, r.opts.MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	if err := creds.Verify(req.Header, body); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, r.opts.RequestTimeout)
	defer cancel()
	evs, err := request.Decode(req.Header, body, cloudevents.Limits{MaxBatch: r.opts.MaxBatch, MaxDataBytes: int(r.opts.MaxBodyBytes)})
	if err != nil {
		return nil, err
	}
	if err := r.validateEvents(evs); err != nil {
		return nil, err
	}
	answer := &Answer{Events: make([]EventResult, 0, len(evs))}
	var skips []recordedSkip
	for i := range evs {
		res, s, err := r.handleEvent(ctx, ns, &evs[i])
		if err != nil {
			return nil, fmt.Errorf("event %q from %q: %w", evs[i].ID, evs[i].Source, err)
		}
		answer.Events = append(answer.Events, res)
		skips = append(skips, s...)
	}
	// Counted only once the whole request succeeded, so a retried batch is not counted twice.
	for i := range skips {
		s := &skips[i]
		r.skips.record(*s)
	}
	if r.opts.SkipLog != nil && len(skips) > 0 {
		events := make([]SkippedEvent, len(skips))
		for i := range skips {
			events[i] = skips[i].event
		}
		r.opts.SkipLog(ctx, events)
	}
	return answer, nil
}

// writeError answers a refusal with its 4xx, and any failure to persist with
// 503 and Retry-After so the sender retries: nothing is acknowledged that is
// not written.
func (r *Receiver) writeError(ctx context.Context, w http.ResponseWriter, err error) {
	var reqErr *request.Error
	if errors.As(err, &reqErr) {
		log.FromContext(ctx).V(1).Info("refused request", "status", reqErr.Status, "reason", reqErr.Message)
		writeProblem(w, reqErr.Status, reqErr.Message)
		return
	}
	log.FromContext(ctx).Info("could not persist events; answering 503", "error", err.Error())
	writeUnavailable(w, r.retryAfterSeconds(), "not persisted, retry later: "+err.Error())
}

func (r *Receiver) retryAfterSeconds() int {
	return int(math.Ceil(r.opts.RetryAfter.Seconds()))
}

// namespaceFromPath parses /v1/namespaces/<ns>/events.
func namespaceFromPath(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "/v1/namespaces/")
	if !ok {
		return "", false
	}
	ns, tail, ok := strings.Cut(rest, "/")
	if !ok || tail != "events" || ns == "" {
		return "", false
	}
	return ns, true
}

// event copies are kept small: recordedSkip is what a skip needs later.
type recordedSkip struct {
	workflow *v1alpha1.Workflow
	reason   v1alpha1.SkipReason
	message  string
	event    SkippedEvent
}

// SkippedEvent is one event that did not enroll one workflow, as the run
// history keeps it to answer "why didn't it fire for Ann?".
type SkippedEvent struct {
	Namespace, Workflow                    string
	Reason                                 v1alpha1.SkipReason
	EventID, EventSource, Subject, Message string
	Time                                   time.Time
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
