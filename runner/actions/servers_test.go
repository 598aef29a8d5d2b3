package actions_test

import (
	"testing"

	"github.com/crmflow/crmflow/test/servers"
)

// newHTTPTarget starts a recording HTTP server on 127.0.0.1 that answers
// with respond (nil: 200 OK) and closes it when the test ends.
func newHTTPTarget(t *testing.T, respond servers.Responder) *servers.HTTP {
	t.Helper()
	srv := servers.NewHTTP(respond)
	t.Cleanup(srv.Close)
	return srv
}

// newSMTPServer starts a real SMTP server on 127.0.0.1 and closes it when
// the test ends.
func newSMTPServer(t *testing.T, opts servers.SMTPOptions) *servers.SMTP {
	t.Helper()
	srv, err := servers.NewSMTP(opts)
	if err != nil {
		t.Fatalf("start SMTP: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}
