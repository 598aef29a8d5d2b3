//go:build !unit

package e2e

import (
	"net/http"

	"github.com/crmflow/crmflow/test/servers"
)

// hit is one request the HTTP target received.
type hit struct {
	Path           string
	IdempotencyKey string
	// CEType and CESubject are the CloudEvents attributes of a command (binary mode).
	CEType    string
	CESubject string
	Body      []byte
}

// httpTarget is a real HTTP server on 127.0.0.1 standing for the CRM sink and
// the notification webhooks. It records every request, answers 202, and can
// refuse the first requests of a path with 503, to drive retries.
type httpTarget struct{ *servers.HTTP }

func newHTTPTarget() *httpTarget {
	return &httpTarget{servers.NewHTTP(servers.Answer(http.StatusAccepted, ""))}
}

// failNext makes the next n requests to path fail with 503 and Retry-After: 30.
func (t *httpTarget) failNext(path string, n int) {
	t.FailNext(path, n, http.StatusServiceUnavailable, "30")
}

// on returns the requests received on paths starting with prefix.
func (t *httpTarget) on(prefix string) []hit {
	var out []hit
	for _, r := range t.Under(prefix) {
		out = append(out, hit{
			Path:           r.Path,
			IdempotencyKey: r.Header.Get("Idempotency-Key"),
			CEType:         r.Header.Get("Ce-Type"),
			CESubject:      r.Header.Get("Ce-Subject"),
			Body:           r.Body,
		})
	}
	return out
}

// mail is one message the SMTP server accepted.
type mail struct {
	To   []string
	Data string
}

// mailServer is a real SMTP server on 127.0.0.1, without TLS or
// authentication (connections.smtp.tls: None).
type mailServer struct {
	host string
	port int32
	srv  *servers.SMTP
}

func newMailServer() (*mailServer, error) {
	srv, err := servers.NewSMTP(servers.SMTPOptions{})
	if err != nil {
		return nil, err
	}
	return &mailServer{host: srv.Host, port: int32(srv.Port), srv: srv}, nil
}

// to returns the messages sent to addr.
func (m *mailServer) to(addr string) []mail {
	var out []mail
	for _, msg := range m.srv.To(addr) {
		out = append(out, mail{To: msg.To, Data: string(msg.Data)})
	}
	return out
}
