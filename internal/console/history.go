package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/internal/history"
)

// History reads crmflow's run history API for the console.
type History interface {
	// Get fetches path (e.g. /api/v1/namespaces/ns/runs/name) with query
	// and decodes the JSON answer into out; a 404 is ErrNotArchived.
	Get(r *http.Request, path string, query url.Values, out any) error
}

// ErrNotArchived is the history API's 404: the store does not hold it.
var ErrNotArchived = errors.New("not in the run history")

// HTTPHistory is a History over HTTPS with one client, which carries the
// credentials of whoever runs the local console (their kubeconfig's).
type HTTPHistory struct {
	// Base is the history API's URL, e.g. https://127.0.0.1:8444.
	Base *url.URL
	// Client carries the credentials and trusts the API's certificate.
	Client *http.Client
}

// NewHTTPHistory is an HTTPHistory for the history API at base (https),
// calling it with cfg's user credentials (token, token file, exec or auth
// provider; the API accepts tokens only) and trusting caFile, or nothing
// when insecure.
func NewHTTPHistory(base string, cfg *rest.Config, caFile string, insecure bool) (*HTTPHistory, error) {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("history API URL: want an https:// URL, got %q", base)
	}
	// The user's credentials, not the API server's TLS settings: the
	// history API has its own certificate.
	hc := rest.AnonymousClientConfig(cfg)
	hc.BearerToken, hc.BearerTokenFile, hc.ExecProvider, hc.AuthProvider = cfg.BearerToken, cfg.BearerTokenFile, cfg.ExecProvider, cfg.AuthProvider
	hc.Host = u.String()
	hc.TLSClientConfig = rest.TLSClientConfig{CAFile: caFile, Insecure: insecure}
	rt, err := rest.TransportFor(hc)
	if err != nil {
		return nil, fmt.Errorf("history API transport: %w", err)
	}
	return &HTTPHistory{Base: u, Client: &http.Client{Transport: rt, Timeout: 30 * time.Second}}, nil
}

// Get implements History.
func (h *HTTPHistory) Get(r *http.Request, path string, query url.Values, out any) error {
	return h.GetContext(r.Context(), path, query, out)
}

// GetContext is Get for a caller without an HTTP request (the plugin).
func (h *HTTPHistory) GetContext(ctx context.Context, path string, query url.Values, out any) error {
	u := h.Base.JoinPath(path)
	u.RawQuery = query.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("history API request: %w", err)
	}
	resp, err := h.Client.Do(req)
	if err != nil {
		return fmt.Errorf("history API: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return fmt.Errorf("history API: read answer: %w", err)
	}
	return decodeHistoryAnswer(resp.StatusCode, body, out)
}

// HandlerHistory is a History served by the history API's handler in the
// same process (the manager that serves the in-cluster console), called with
// the console caller's own token: the history API's own authorization
// decides what each person sees, as it does for kubectl crmflow.
type HandlerHistory struct {
	// Handler is the history API (api.NewServer).
	Handler http.Handler
}

// Get implements History.
func (h HandlerHistory) Get(r *http.Request, path string, query url.Values, out any) error {
	token := bearerToken(r)
	if token == "" {
		return errSignIn
	}
	u := url.URL{Path: path, RawQuery: query.Encode()}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("history API request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	rec := &answerRecorder{header: http.Header{}, status: http.StatusOK}
	h.Handler.ServeHTTP(rec, req)
	return decodeHistoryAnswer(rec.status, rec.body.Bytes(), out)
}

// answerRecorder keeps what an in-process handler answered.
type answerRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (a *answerRecorder) Header() http.Header         { return a.header }
func (a *answerRecorder) WriteHeader(status int)      { a.status = status }
func (a *answerRecorder) Write(p []byte) (int, error) { return a.body.Write(p) }

// decodeHistoryAnswer turns the history API's answer into out, ErrNotArchived
// (404) or an error that carries the API's message.
func decodeHistoryAnswer(status int, body []byte, out any) error {
	switch {
	case status == http.StatusNotFound:
		return ErrNotArchived
	case status != http.StatusOK:
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(body, &e)
		if e.Error == "" {
			e.Error = strings.TrimSpace(string(body))
		}
		return &apiError{status: http.StatusBadGateway, Message: fmt.Sprintf("history API: %d %s: %s", status, http.StatusText(status), e.Error)}
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("history API: decode answer: %w", err)
	}
	return nil
}

func historyPath(ns string, parts ...string) string {
	p := "/api/v1/namespaces/" + url.PathEscape(ns)
	for _, s := range parts {
		p += "/" + url.PathEscape(s)
	}
	return p
}

// archivedRun is a run of the history store as the run page shows a run.
func archivedRun(run *history.Run) runDetail {
	d := runDetail{Name: run.Name, Namespace: run.Namespace, Workflow: run.Workflow, Revision: run.WorkflowRevision,
		Subject: run.Subject, Created: metav1.NewTime(run.Created), Archived: true}
	if run.ScheduledTime != nil {
		t := metav1.NewTime(*run.ScheduledTime)
		d.ScheduledTime = &t
	}
	if len(run.Event) > 0 {
		var ev v1alpha1.CloudEvent
		if json.Unmarshal(run.Event, &ev) == nil {
			d.Event = &ev
		}
	}
	finished := metav1.NewTime(run.Finished)
	d.Status = v1alpha1.WorkflowRunStatus{
		Phase: v1alpha1.RunPhase(run.Phase), Result: v1alpha1.ConditionReason(run.Result), Message: run.Message,
		ConditionResults: run.Conditions, Conditions: run.StatusConditions, Steps: run.Steps,
		CompletionTime: &finished, WorkflowRevision: run.WorkflowRevision,
	}
	if !run.Started.IsZero() {
		started := metav1.NewTime(run.Started)
		d.Status.StartTime = &started
	}
	return d
}

// archivedSummary is a run of the history store as the runs list shows it.
func archivedSummary(run *history.Run) runSummary {
	finished := metav1.NewTime(run.Finished)
	return runSummary{Name: run.Name, Workflow: run.Workflow, Subject: run.Subject, Phase: v1alpha1.RunPhase(run.Phase),
		EventType: run.EventType, Created: metav1.NewTime(run.Created), CompletionTime: &finished, Archived: true}
}

// archivedRuns returns the newest finished runs of the history store that
// match the runs list's workflow or subject filter (one page, at most
// limit), leaving out the names in live. Without either filter the store
// has no listing to offer (it answers per workflow or per subject).
func (s *Server) archivedRuns(r *http.Request, ns, workflow, subject string, phase v1alpha1.RunPhase, limit int, live []runSummary) ([]runSummary, error) {
	if s.opts.History == nil || (workflow == "" && subject == "") {
		return nil, nil
	}
	switch phase {
	case "", v1alpha1.RunSucceeded, v1alpha1.RunFailed, v1alpha1.RunCancelled:
	default:
		return nil, nil // the store holds finished runs only
	}
	q := url.Values{"limit": {fmt.Sprint(limit)}}
	if phase != "" {
		q.Set("phase", string(phase))
	}
	path := historyPath(ns, "timeline")
	if workflow != "" {
		path = historyPath(ns, "workflows", workflow, "runs")
	}
	if subject != "" {
		q.Set("subject", subject)
	}
	var page history.RunPage
	if err := s.opts.History.Get(r, path, q, &page); err != nil {
		if errors.Is(err, ErrNotArchived) {
			return nil, nil
		}
		return nil, err
	}
	seen := make(map[string]bool, len(live))
	for i := range live {
		seen[live[i].Name] = true
	}
	var out []runSummary
	for i := range page.Runs {
		if run := &page.Runs[i]; !seen[run.Name] {
			out = append(out, archivedSummary(run))
		}
	}
	return out, nil
}
