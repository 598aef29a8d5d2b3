package main

import (
	"context"
	"fmt"
	"net/url"
	"os"

	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/crmflow/crmflow/internal/console"
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
		"HTTPS `url` of crmflow's run history API (e.g. https://localhost:8444 through kubectl port-forward); default $CRMFLOW_HISTORY_URL")
	fs.StringVar(&h.caFile, "history-ca-file", os.Getenv("CRMFLOW_HISTORY_CA_FILE"), "PEM `file` with the CA certificate of the history API; default $CRMFLOW_HISTORY_CA_FILE")
	fs.BoolVar(&h.insecure, "history-insecure-skip-tls-verify", false, "do not verify the history API's certificate (a self-signed one)")
}

// errNotArchived is a 404 from the history API.
var errNotArchived = console.ErrNotArchived

// historyClient calls the history API with the caller's own Kubernetes
// credentials (their bearer token, from the kubeconfig or an exec plugin).
type historyClient struct {
	api *console.HTTPHistory
}

// client returns nil when no history URL is configured.
func (h *historyFlags) client(flags *genericclioptions.ConfigFlags) (*historyClient, error) {
	if h.url == "" {
		return nil, nil
	}
	cfg, err := flags.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig: %w", err)
	}
	api, err := console.NewHTTPHistory(h.url, cfg, h.caFile, h.insecure)
	if err != nil {
		return nil, fmt.Errorf("--history-url: %w", err)
	}
	return &historyClient{api: api}, nil
}

// get fetches path?q into out.
func (c *historyClient) get(ctx context.Context, path string, q url.Values, out any) error {
	return c.api.GetContext(ctx, path, q, out)
}

func nsPath(ns string, parts ...string) string {
	p := "/api/v1/namespaces/" + url.PathEscape(ns)
	for _, s := range parts {
		p += "/" + url.PathEscape(s)
	}
	return p
}
