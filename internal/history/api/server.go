// Package api serves the run history store over HTTPS to Kubernetes users:
// each request carries the caller's bearer token, checked by TokenReview,
// and reads one namespace, allowed only when a SubjectAccessReview says the
// caller may list workflowruns there. The kubectl plugin and the console use it.
//
// Endpoints (GET, JSON):
//
//	/api/v1/namespaces/{ns}/workflows/{workflow}/runs   ?from&to&phase&subject&limit&continue
//	/api/v1/namespaces/{ns}/runs/{name}
//	/api/v1/namespaces/{ns}/timeline                    ?subject (required)&from&to&limit&continue
//	/api/v1/namespaces/{ns}/skips                       ?eventID|subject|workflow&from&to&limit
//	/api/v1/namespaces/{ns}/workflows/{workflow}/analytics ?from&to (default: the last 90 days)
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/internal/history"
)

// Limits of a query.
const (
	// MaxRange is the widest from..to a query may ask for.
	MaxRange = 400 * 24 * time.Hour
	// MaxValueLength bounds the value of every query parameter.
	MaxValueLength = 512
	// DefaultAnalyticsRange is the analytics window when the query names none.
	DefaultAnalyticsRange = 90 * 24 * time.Hour
)

// The manager reviews its callers' tokens and permissions.
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// Server answers history queries for Kubernetes users.
type Server struct {
	store  history.Store
	review *reviewer
	clock  clock.PassiveClock
	log    logr.Logger
	mux    *http.ServeMux
}

// Options tune a Server.
type Options struct {
	// Clock tells "now" for default time ranges and review caching.
	Clock clock.PassiveClock
	// ReviewTTL caches TokenReview and SubjectAccessReview answers (default 10s).
	ReviewTTL time.Duration
	// Log receives store errors, which are never shown to callers.
	Log logr.Logger
}

// NewServer returns the API over store; c creates TokenReviews and
// SubjectAccessReviews with the manager's identity.
func NewServer(store history.Store, c client.Client, opts Options) *Server {
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.ReviewTTL <= 0 {
		opts.ReviewTTL = 10 * time.Second
	}
	s := &Server{store: store, review: newReviewer(c, opts.Clock, opts.ReviewTTL), clock: opts.Clock, log: opts.Log, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /api/v1/namespaces/{ns}/workflows/{workflow}/runs", s.authorized(s.listRuns))
	s.mux.HandleFunc("GET /api/v1/namespaces/{ns}/runs/{name}", s.authorized(s.getRun))
	s.mux.HandleFunc("GET /api/v1/namespaces/{ns}/timeline", s.authorized(s.timeline))
	s.mux.HandleFunc("GET /api/v1/namespaces/{ns}/skips", s.authorized(s.skips))
	s.mux.HandleFunc("GET /api/v1/namespaces/{ns}/workflows/{workflow}/analytics", s.authorized(s.analytics))
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	s.mux.HandleFunc("/", s.notFound)
	return s
}

// notFound answers paths no endpoint serves, and other methods than GET on
// the paths of endpoints (405 with Allow, as RFC 9110 asks).
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		get := r.Clone(r.Context())
		get.Method = http.MethodGet
		if _, pattern := s.mux.Handler(get); pattern != "/" && pattern != "" {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed: the history API is read-only (GET)")
			return
		}
	}
	writeError(w, http.StatusNotFound, "no such endpoint; see docs/history.md")
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// badRequest is a client error whose message is safe to show.
type badRequest struct{ msg string }

func (e badRequest) Error() string { return e.msg }

func invalid(format string, args ...any) error { return badRequest{fmt.Sprintf(format, args...)} }

// authorized checks the caller's token and their right to list workflowruns
// in the namespace of the path before h runs.
func (s *Server) authorized(h func(ctx context.Context, ns string, r *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ns := r.PathValue("ns")
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			writeError(w, http.StatusBadRequest, "namespace: "+strings.Join(errs, "; "))
			return
		}
		user, err := s.review.authenticate(r.Context(), r)
		if errors.Is(err, errUnauthenticated) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="crmflow-history"`)
			writeError(w, http.StatusUnauthorized, "a valid Kubernetes bearer token is required")
			return
		}
		if err != nil {
			s.log.Error(err, "authenticate a history request")
			writeError(w, http.StatusServiceUnavailable, "cannot check credentials with the Kubernetes API server; retry later")
			return
		}
		allowed, err := s.review.mayList(r.Context(), user, ns)
		if err != nil {
			s.log.Error(err, "authorize a history request")
			writeError(w, http.StatusServiceUnavailable, "cannot check permissions with the Kubernetes API server; retry later")
			return
		}
		if !allowed {
			writeError(w, http.StatusForbidden, fmt.Sprintf("user %q may not list workflowruns in namespace %q", user.Username, ns))
			return
		}
		body, err := h(r.Context(), ns, r)
		var bad badRequest
		switch {
		case errors.As(err, &bad):
			writeError(w, http.StatusBadRequest, bad.msg)
		case errors.Is(err, history.ErrInvalidCursor):
			writeError(w, http.StatusBadRequest, "continue: not a token this server issued")
		case errors.Is(err, history.ErrNotFound):
			writeError(w, http.StatusNotFound, "no such run in the history store")
		case err != nil:
			s.log.Error(err, "history query", "path", r.URL.Path)
			writeError(w, http.StatusServiceUnavailable, "the run history store is unavailable; retry later")
		default:
			writeJSON(w, http.StatusOK, body)
		}
	}
}

func (s *Server) listRuns(ctx context.Context, ns string, r *http.Request) (any, error) {
	q, err := s.runQuery(ns, r)
	if err != nil {
		return nil, err
	}
	if q.Workflow, err = name("workflow", r.PathValue("workflow")); err != nil {
		return nil, err
	}
	return s.store.ListRuns(ctx, q)
}

func (s *Server) getRun(ctx context.Context, ns string, r *http.Request) (any, error) {
	if _, err := params(r); err != nil {
		return nil, err
	}
	n, err := name("name", r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	return s.store.GetRun(ctx, ns, n)
}

func (s *Server) timeline(ctx context.Context, ns string, r *http.Request) (any, error) {
	q, err := s.runQuery(ns, r)
	if err != nil {
		return nil, err
	}
	if q.Subject == "" {
		return nil, invalid("subject: required")
	}
	return s.store.Timeline(ctx, q)
}

func (s *Server) skips(ctx context.Context, ns string, r *http.Request) (any, error) {
	v, err := params(r, "eventID", "subject", "workflow", "from", "to", "limit")
	if err != nil {
		return nil, err
	}
	q := history.SkipQuery{Namespace: ns, EventID: v.Get("eventID"), Subject: v.Get("subject")}
	if w := v.Get("workflow"); w != "" {
		if q.Workflow, err = name("workflow", w); err != nil {
			return nil, err
		}
	}
	if q.EventID == "" && q.Subject == "" && q.Workflow == "" {
		return nil, invalid("one of eventID, subject or workflow is required")
	}
	if q.From, q.To, err = timeRange(v, s.clock.Now()); err != nil {
		return nil, err
	}
	if q.Limit, err = limit(v); err != nil {
		return nil, err
	}
	skips, err := s.store.Skips(ctx, q)
	return map[string]any{"skips": skips}, err
}

func (s *Server) analytics(ctx context.Context, ns string, r *http.Request) (any, error) {
	v, err := params(r, "from", "to")
	if err != nil {
		return nil, err
	}
	wf, err := name("workflow", r.PathValue("workflow"))
	if err != nil {
		return nil, err
	}
	from, to, err := timeRange(v, s.clock.Now())
	if err != nil {
		return nil, err
	}
	if to.IsZero() {
		to = s.clock.Now()
	}
	if from.IsZero() {
		from = to.Add(-DefaultAnalyticsRange)
	}
	if !from.Before(to) {
		return nil, invalid("from: must be before to")
	}
	return s.store.Analytics(ctx, ns, wf, from, to)
}

// runQuery reads the parameters shared by the run lists.
func (s *Server) runQuery(ns string, r *http.Request) (history.RunQuery, error) {
	q := history.RunQuery{Namespace: ns}
	v, err := params(r, "from", "to", "phase", "subject", "limit", "continue")
	if err != nil {
		return q, err
	}
	q.Subject, q.Cursor = v.Get("subject"), v.Get("continue")
	switch p := v.Get("phase"); v1alpha1.RunPhase(p) {
	case "", v1alpha1.RunSucceeded, v1alpha1.RunFailed, v1alpha1.RunCancelled:
		q.Phase = p
	default:
		return q, invalid("phase: must be Succeeded, Failed or Cancelled")
	}
	if q.From, q.To, err = timeRange(v, s.clock.Now()); err != nil {
		return q, err
	}
	q.Limit, err = limit(v)
	return q, err
}

// params parses the request's query string strictly (a ';' separator or a
// bad %-escape is a 400, not a silently dropped parameter) and checks that
// each parameter is one of names, given once, and text every store can hold:
// at most MaxValueLength bytes of UTF-8 without NUL (PostgreSQL refuses both).
func params(r *http.Request, names ...string) (url.Values, error) {
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, invalid("the query string is malformed: %v", err)
	}
	if err := known(v, names...); err != nil {
		return nil, err
	}
	for k, vals := range v {
		switch s := vals[0]; {
		case len(s) > MaxValueLength:
			return nil, invalid("%s: longer than %d bytes", k, MaxValueLength)
		case !utf8.ValidString(s):
			return nil, invalid("%s: not valid UTF-8 text", k)
		case strings.ContainsRune(s, 0):
			return nil, invalid("%s: contains a NUL byte", k)
		}
	}
	return v, nil
}

func known(v url.Values, names ...string) error {
	for k, vals := range v {
		if !slices.Contains(names, k) {
			if len(names) == 0 {
				return invalid("unknown parameter %q (this endpoint takes none)", truncate(k))
			}
			return invalid("unknown parameter %q (known: %s)", truncate(k), strings.Join(names, ", "))
		}
		if len(vals) > 1 {
			return invalid("%s: given more than once", k)
		}
	}
	return nil
}

func name(field, s string) (string, error) {
	if errs := validation.IsDNS1123Subdomain(s); len(errs) > 0 {
		return "", invalid("%s: %s", field, strings.Join(errs, "; "))
	}
	return s, nil
}

func limit(v url.Values) (int, error) {
	s := v.Get("limit")
	if s == "" {
		return history.DefaultLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || strconv.Itoa(n) != s || n < 1 || n > history.MaxLimit {
		return 0, invalid("limit: must be a whole number from 1 to %d", history.MaxLimit)
	}
	return n, nil
}

// timeRange parses from and to (RFC 3339, years 1970..9999 in UTC). Given
// both, from must be before to and at most MaxRange earlier; given one, the
// missing side counts as now for the width, so an open-ended range is no
// wider than MaxRange either.
func timeRange(v url.Values, now time.Time) (time.Time, time.Time, error) {
	parse := func(key string) (time.Time, error) {
		s := v.Get(key)
		if s == "" {
			return time.Time{}, nil
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return t, invalid("%s: not an RFC 3339 time such as 2026-11-02T09:00:00Z", key)
		}
		if y := t.UTC().Year(); y < 1970 || y > 9999 {
			return t, invalid("%s: outside the years 1970..9999 (UTC)", key)
		}
		return t, nil
	}
	from, err := parse("from")
	if err != nil {
		return from, time.Time{}, err
	}
	to, err := parse("to")
	if err != nil {
		return from, to, err
	}
	days := int(MaxRange.Hours() / 24)
	switch {
	case !from.IsZero() && !to.IsZero():
		if !from.Before(to) {
			return from, to, invalid("from: must be before to")
		}
		if to.Sub(from) > MaxRange {
			return from, to, invalid("from..to: wider than %d days", days)
		}
	case !from.IsZero() && wider(from, now):
		return from, to, invalid("from..to: wider than %d days (to is not given, so it counts as now)", days)
	case !to.IsZero() && wider(to, now):
		return from, to, invalid("from..to: wider than %d days (from is not given, so it counts as now)", days)
	}
	return from, to, nil
}

// wider says whether t lies more than MaxRange from now, either way.
func wider(t, now time.Time) bool {
	d := now.Sub(t)
	return d > MaxRange || d < -MaxRange
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

func writeJSON(w http.ResponseWriter, code int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
