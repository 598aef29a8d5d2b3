// Package historytest serves a real run history API for tests: a SQLite
// store in a temporary directory behind api.NewServer over TLS, with the
// server's certificate written to a file, as clients are configured with it.
package historytest

import (
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/internal/history"
	"github.com/crmflow/crmflow/internal/history/api"
	"github.com/crmflow/crmflow/internal/history/sqlstore"
)

// Server is a running history API and its store.
type Server struct {
	// Store is what the API reads; tests archive runs into it.
	Store history.Store
	// URL is the API's https:// address.
	URL string
	// CAFile holds the PEM certificate the API serves with.
	CAFile string
}

// Serve starts a history API whose TokenReviews and SubjectAccessReviews
// are made with c; it stops when t ends.
func Serve(t testing.TB, c client.Client) *Server {
	t.Helper()
	dir := t.TempDir()
	store, err := sqlstore.Open(t.Context(), filepath.Join(dir, "history.db"), sqlstore.Options{})
	if err != nil {
		t.Fatalf("open the history store: %v", err)
	}
	t.Cleanup(func() { _ = store.Close() })
	srv := httptest.NewTLSServer(api.NewServer(store, c, api.Options{}))
	t.Cleanup(srv.Close)
	caFile := filepath.Join(dir, "history-ca.crt")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatalf("write the history API's certificate: %v", err)
	}
	return &Server{Store: store, URL: srv.URL, CAFile: caFile}
}
