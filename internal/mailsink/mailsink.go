// Package mailsink is a local SMTP server without TLS or authentication that
// hands every message it accepts to a function: the mailbox of the local
// start (hack/dev prints the messages) and of the benchmarks (hack/bench-e2e
// counts them). It is not for production: it accepts mail from anyone who
// can reach its listener.
package mailsink

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/emersion/go-smtp"
)

// Message is one accepted message.
type Message struct {
	// From is the envelope sender.
	From string
	// To are the envelope recipients.
	To []string
	// Subject is the Subject header.
	Subject string
	// Body is the body's lines (at most maxBodyLines).
	Body []string
}

// maxBodyLines bounds what a Message keeps of a body.
const maxBodyLines = 20

// Server is a running mail sink.
type Server struct {
	srv *smtp.Server
}

// Serve accepts mail on l until Close, calling deliver for each message
// (from the connection's goroutine: deliver must be safe for concurrent use).
func Serve(l net.Listener, deliver func(Message)) *Server {
	srv := smtp.NewServer(backend{deliver: deliver})
	srv.Domain = "localhost"
	// A workflow with SMTP credentials gets "takes no authentication"
	// rather than a demand for STARTTLS.
	srv.AllowInsecureAuth = true
	go func() { _ = srv.Serve(l) }()
	return &Server{srv: srv}
}

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

type backend struct{ deliver func(Message) }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &session{deliver: b.deliver}, nil
}

type session struct {
	deliver func(Message)
	msg     Message
}

func (s *session) AuthMechanisms() []string { return nil }

func (s *session) Auth(string) (smtp.Session, error) {
	return nil, errors.New("this mail sink takes no authentication")
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.msg.From = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.msg.To = append(s.msg.To, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	msg := s.msg
	inBody := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case inBody:
			if len(msg.Body) < maxBodyLines {
				msg.Body = append(msg.Body, line)
			}
		case line == "":
			inBody = true
		case strings.HasPrefix(strings.ToLower(line), "subject:"):
			msg.Subject = strings.TrimSpace(line[len("subject:"):])
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	s.deliver(msg)
	return nil
}

func (s *session) Reset() { s.msg = Message{} }

func (s *session) Logout() error { return nil }
