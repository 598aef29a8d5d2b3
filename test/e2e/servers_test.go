package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
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

// JSON decodes the body into a map (commands' data, notifications).
func (h hit) JSON() map[string]any {
	m := map[string]any{}
	_ = json.Unmarshal(h.Body, &m)
	return m
}

// httpTarget is a real HTTP server on 127.0.0.1 standing for the CRM sink and
// the notification webhooks. It records every request and can refuse the
// first requests of a path with 503, to drive retries.
type httpTarget struct {
	*httptest.Server
	mu    sync.Mutex
	hits  []hit
	fails map[string]int
}

func newHTTPTarget() *httpTarget {
	t := &httpTarget{fails: map[string]int{}}
	t.Server = httptest.NewServer(http.HandlerFunc(t.serve))
	return t
}

func (t *httpTarget) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	t.mu.Lock()
	t.hits = append(t.hits, hit{
		Path:           r.URL.Path,
		IdempotencyKey: r.Header.Get("Idempotency-Key"),
		CEType:         r.Header.Get("Ce-Type"),
		CESubject:      r.Header.Get("Ce-Subject"),
		Body:           body,
	})
	fail := t.fails[r.URL.Path] > 0
	if fail {
		t.fails[r.URL.Path]--
	}
	t.mu.Unlock()
	if fail {
		w.Header().Set("Retry-After", "30")
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// failNext makes the next n requests to path fail with 503 and Retry-After: 30.
func (t *httpTarget) failNext(path string, n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.fails[path] = n
}

// on returns the requests received on paths starting with prefix.
func (t *httpTarget) on(prefix string) []hit {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []hit
	for _, h := range t.hits {
		if strings.HasPrefix(h.Path, prefix) {
			out = append(out, h)
		}
	}
	return out
}

// mail is one message the SMTP server accepted.
type mail struct {
	To   []string
	Data string
}

// Subject returns the message's Subject header.
func (m mail) Subject() string {
	for _, line := range strings.Split(m.Data, "\r\n") {
		if strings.HasPrefix(line, "Subject: ") {
			return strings.TrimPrefix(line, "Subject: ")
		}
	}
	return ""
}

// mailServer is a real SMTP server (github.com/emersion/go-smtp) on 127.0.0.1,
// without TLS or authentication (connections.smtp.tls: None).
type mailServer struct {
	host string
	port int32
	srv  *smtp.Server
	mu   sync.Mutex
	msgs []mail
}

func newMailServer() (*mailServer, error) {
	m := &mailServer{}
	m.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &mailSession{srv: m}, nil }))
	m.srv.Domain = "localhost"
	m.srv.ErrorLog = log.New(io.Discard, "", 0)
	m.srv.ReadTimeout = 10 * time.Second
	m.srv.WriteTimeout = 10 * time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	host, port, _ := net.SplitHostPort(l.Addr().String())
	p, _ := strconv.Atoi(port)
	m.host, m.port = host, int32(p)
	go func() { _ = m.srv.Serve(l) }()
	return m, nil
}

// to returns the messages sent to addr.
func (m *mailServer) to(addr string) []mail {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []mail
	for _, msg := range m.msgs {
		for _, rcpt := range msg.To {
			if rcpt == addr {
				out = append(out, msg)
			}
		}
	}
	return out
}

type mailSession struct {
	srv *mailServer
	to  []string
}

func (s *mailSession) Reset()        { s.to = nil }
func (s *mailSession) Logout() error { return nil }
func (s *mailSession) Mail(string, *smtp.MailOptions) error {
	return nil
}
func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *mailSession) Data(r io.Reader) error {
	var b bytes.Buffer
	if _, err := io.Copy(&b, r); err != nil {
		return err
	}
	s.srv.mu.Lock()
	s.srv.msgs = append(s.srv.msgs, mail{To: s.to, Data: b.String()})
	s.srv.mu.Unlock()
	return nil
}
