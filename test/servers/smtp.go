package servers

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one message the SMTP server accepted.
type Message struct {
	// Seq orders records across every server of the process (see package doc).
	Seq  uint64
	From string
	To   []string
	// Data is the message as sent after DATA (headers and body, CRLF lines).
	Data []byte
	// TLS reports whether the session was encrypted (STARTTLS or implicit TLS).
	TLS bool
	// User is the authenticated user name, empty without AUTH.
	User string
}

// Header returns the first value of header key in the message's header
// section (no MIME decoding), or "".
func (m Message) Header(key string) string {
	head, _, _ := strings.Cut(string(m.Data), "\r\n\r\n")
	prefix := strings.ToLower(key) + ":"
	for _, line := range strings.Split(head, "\r\n") {
		if strings.HasPrefix(strings.ToLower(line), prefix) {
			return strings.TrimSpace(line[len(prefix):])
		}
	}
	return ""
}

// SMTPOptions shape an SMTP server; the zero value is plain SMTP without
// TLS or authentication.
type SMTPOptions struct {
	// ImplicitTLS serves TLS from the first byte (SMTPS).
	ImplicitTLS bool
	// StartTLS offers the STARTTLS extension.
	StartTLS bool
	// Users enables AUTH PLAIN (offered over TLS only) with these
	// user/password pairs, and then requires authentication before MAIL.
	Users map[string]string
	// Rcpt, when set, is asked about every RCPT TO; its error is the answer.
	Rcpt func(to string) error
}

// SMTP is a real SMTP server (github.com/emersion/go-smtp) on 127.0.0.1 that
// records every accepted message. Its certificate is self-signed, generated
// at start; ClientTLS trusts it.
type SMTP struct {
	// Host and Port are where the server listens.
	Host string
	Port int
	// Roots is a pool that trusts the server's certificate.
	Roots *x509.CertPool

	opts SMTPOptions
	srv  *smtp.Server

	mu   sync.Mutex
	msgs []Message
}

// NewSMTP starts an SMTP server with opts. Close it when done.
func NewSMTP(opts SMTPOptions) (*SMTP, error) {
	cert, roots, err := SelfSigned("crmflow test SMTP")
	if err != nil {
		return nil, err
	}
	s := &SMTP{Roots: roots, opts: opts}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{srv: s, conn: c}, nil
	}))
	s.srv.Domain = "localhost"
	s.srv.ErrorLog = log.New(io.Discard, "", 0)
	s.srv.ReadTimeout = 10 * time.Second
	s.srv.WriteTimeout = 10 * time.Second
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if opts.StartTLS {
		s.srv.TLSConfig = tlsConfig
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for SMTP on 127.0.0.1: %w", err)
	}
	if opts.ImplicitTLS {
		l = tls.NewListener(l, tlsConfig)
	}
	host, port, err := net.SplitHostPort(l.Addr().String())
	if err != nil {
		_ = l.Close()
		return nil, fmt.Errorf("SMTP listener address %q: %w", l.Addr(), err)
	}
	s.Host = host
	s.Port, _ = strconv.Atoi(port)
	go func() { _ = s.srv.Serve(l) }()
	return s, nil
}

// Close stops the server and closes its open sessions.
func (s *SMTP) Close() error { return s.srv.Close() }

// Messages returns a copy of every accepted message, in arrival order.
func (s *SMTP) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// To returns the accepted messages that have addr among their recipients.
func (s *SMTP) To(addr string) []Message {
	var out []Message
	for _, m := range s.Messages() {
		for _, rcpt := range m.To {
			if rcpt == addr {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

// ClientTLS is a client TLS configuration that trusts the server.
func (s *SMTP) ClientTLS() *tls.Config {
	return &tls.Config{RootCAs: s.Roots, MinVersion: tls.VersionTLS12}
}

// session records one SMTP transaction.
type session struct {
	srv  *SMTP
	conn *smtp.Conn
	user string
	from string
	to   []string
}

var _ smtp.AuthSession = (*session)(nil)

func (s *session) AuthMechanisms() []string {
	if s.srv.opts.Users == nil {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if want, ok := s.srv.opts.Users[username]; !ok || want != password {
			return smtp.ErrAuthFailed // 535, as real servers answer
		}
		s.user = username
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.srv.opts.Users != nil && s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.srv.opts.Rcpt != nil {
		if err := s.srv.opts.Rcpt(to); err != nil {
			return err
		}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	s.srv.msgs = append(s.srv.msgs, Message{
		Seq: nextSeq(), From: s.from, To: append([]string(nil), s.to...), Data: data, TLS: isTLS, User: s.user,
	})
	return nil
}

func (s *session) Reset() {
	s.from = ""
	s.to = nil
}

func (s *session) Logout() error { return nil }
