package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"
)

// historyFlags locate crmflow's run history API. Without a URL the commands
// read only the API server (live runs).
type historyFlags struct {
	url      string
	caFile   string
	insecure bool
}

func (h *historyFlags) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&h.url, "history-url", os.Getenv("CRMFLOW_HISTORY_URL"),
		"HTTPS URL of crmflow's run history API (e.g. https://localhost:8444 through `kubectl port-forward`); default $CRMFLOW_HISTORY_URL")
	fs.StringVar(&h.caFile, "history-ca-file", os.Getenv("CRMFLOW_HISTORY_CA_FILE"), "CA certificate of the history API; default $CRMFLOW_HISTORY_CA_FILE")
	fs.BoolVar(&h.insecure, "history-insecure-skip-tls-verify", false, "do not verify the history API's certificate (a self-signed one)")
}

// errNotArchived is a 404 from the history API.
var errNotArchived = errors.New("not in the run history")

// historyClient calls the history API with the caller's own Kubernetes
// credentials (their bearer token, from the kubeconfig or an exec plugin).
type historyClient struct {
	base *url.URL
	http *http.Client
}

// client returns nil when no history URL is configured.
func (h *historyFlags) client(flags *genericclioptions.ConfigFlags) (*historyClient, error) {
	if h.url == "" {
		return nil, nil
	}
	base, err := url.Parse(h.url)
	if err != nil || base.Scheme != "https" || base.Host == "" {
		return nil, fmt.Errorf("--history-url: want an https:// URL, got %q", h.url)
	}
	cfg, err := flags.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig: %w", err)
	}
	// Keep the user's credentials (token, exec plugin), not the API server's
	// TLS settings: the history API has its own certificate and accepts tokens only.
	hc := rest.AnonymousClientConfig(cfg)
	hc.BearerToken, hc.BearerTokenFile, hc.ExecProvider, hc.AuthProvider = cfg.BearerToken, cfg.BearerTokenFile, cfg.ExecProvider, cfg.AuthProvider
	hc.Host = base.String()
	hc.TLSClientConfig = rest.TLSClientConfig{CAFile: h.caFile, Insecure: h.insecure}
	rt, err := rest.TransportFor(hc)
	if err != nil {
		return nil, fmt.Errorf("history API transport: %w", err)
	}
	return &historyClient{base: base, http: &http.Client{Transport: rt, Timeout: 30 * time.Second}}, nil
}

// get fetches path?q into out.
func (c *historyClient) get(ctx context.Context, path string, q url.Values, out any) error {
	u := c.base.JoinPath(path)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("history API request: %w", err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("history API: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return fmt.Errorf("history API: read answer: %w", err)
	}
	if resp.StatusCode == http.StatusNotFound {
		return errNotArchived
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(body, &e)
		if e.Error == "" {
			e.Error = strings.TrimSpace(string(body))
		}
		return fmt.Errorf("history API: %s: %s", resp.Status, e.Error)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("history API: decode answer: %w", err)
	}
	return nil
}

func nsPath(ns string, parts ...string) string {
	p := "/api/v1/namespaces/" + url.PathEscape(ns)
	for _, s := range parts {
		p += "/" + url.PathEscape(s)
	}
	return p
}
