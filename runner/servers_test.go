package runner

import (
	"bytes"
	"net/http"
	"sort"
	"testing"

	"github.com/crmflow/crmflow/test/servers"
)

// delivery is one side effect a real server received, in arrival order.
type delivery struct {
	Via    string // "http" or "smtp"
	Method string
	Path   string
	Header http.Header
	Body   []byte
	// SMTP
	From string
	To   []string
	User string
	TLS  bool
	seq  uint64
}

// world is the outside world of a seed test: one HTTP server on 127.0.0.1
// (CRM sink, notification hooks, webhooks) and one SMTP server with
// STARTTLS and AUTH PLAIN for user mailer/pw, read as one ordered log.
type world struct {
	http *servers.HTTP
	smtp *servers.SMTP
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{http: servers.NewHTTP(nil)}
	t.Cleanup(w.http.Close)
	var err error
	w.smtp, err = servers.NewSMTP(servers.SMTPOptions{StartTLS: true, Users: map[string]string{"mailer": "pw"}})
	if err != nil {
		t.Fatalf("start SMTP: %v", err)
	}
	t.Cleanup(func() { _ = w.smtp.Close() })
	return w
}

// deliveries merges what both servers received, in arrival order.
func (w *world) deliveries() []delivery {
	var out []delivery
	for _, r := range w.http.Requests() {
		out = append(out, delivery{Via: "http", Method: r.Method, Path: r.Path, Header: r.Header, Body: r.Body, seq: r.Seq})
	}
	for _, m := range w.smtp.Messages() {
		out = append(out, delivery{Via: "smtp", From: m.From, To: m.To, Body: m.Data, User: m.User, TLS: m.TLS, seq: m.Seq})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

// header is a shorthand for one header of a delivery.
func (d delivery) header(k string) string { return d.Header.Get(k) }

// contains reports whether the SMTP data holds s.
func (d delivery) contains(s string) bool { return bytes.Contains(d.Body, []byte(s)) }
