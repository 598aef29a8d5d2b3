package actions_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	. "github.com/onsi/gomega"

	"github.com/crmflow/crmflow/runner/actions"
	"github.com/crmflow/crmflow/test/servers"
)

// parsedMail is what a recipient's mail client would show.
type parsedMail struct {
	Header mail.Header
	// Parts maps media type (text/plain, text/html) to decoded content.
	Parts map[string]string
}

func parseMail(g Gomega, data []byte) parsedMail {
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	g.Expect(err).NotTo(HaveOccurred())
	out := parsedMail{Header: msg.Header, Parts: map[string]string{}}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	g.Expect(err).NotTo(HaveOccurred())
	if !strings.HasPrefix(mt, "multipart/") {
		out.Parts[mt] = decodePart(g, msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
		return out
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			break
		}
		g.Expect(err).NotTo(HaveOccurred())
		pmt, _, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
		g.Expect(err).NotTo(HaveOccurred())
		out.Parts[pmt] = decodePart(g, p.Header.Get("Content-Transfer-Encoding"), p)
	}
	return out
}

func decodePart(g Gomega, cte string, r io.Reader) string {
	if strings.EqualFold(cte, "quoted-printable") {
		r = quotedprintable.NewReader(r)
	}
	b, err := io.ReadAll(r)
	g.Expect(err).NotTo(HaveOccurred())
	return strings.ReplaceAll(string(b), "\r\n", "\n")
}

func decodeHeader(g Gomega, v string) string {
	s, err := new(mime.WordDecoder).DecodeHeader(v)
	g.Expect(err).NotTo(HaveOccurred())
	return s
}

func welcomeEmail(s *servers.SMTP, mode string) *actions.Email {
	return &actions.Email{
		Host: s.Host, Port: s.Port, TLS: mode,
		From:    "Sales <sales@example.com>",
		To:      "ann@example.com",
		Cc:      []string{"owner@example.com", ""},
		ReplyTo: "replies@example.com",
		Subject: "Welcome, Zoë",
		Body:    "Hi Zoë,\nthanks for visiting our website.\n",
	}
}

func TestSendEmailModes(t *testing.T) {
	tests := []struct {
		name     string
		mode     string
		server   servers.SMTPOptions
		username string
		wantTLS  bool
	}{
		{name: "StartTLS with AUTH PLAIN", mode: "StartTLS", server: servers.SMTPOptions{StartTLS: true, Users: map[string]string{"mailer": "s3cret"}}, username: "mailer", wantTLS: true},
		{name: "implicit TLS with AUTH PLAIN", mode: "TLS", server: servers.SMTPOptions{ImplicitTLS: true, Users: map[string]string{"mailer": "s3cret"}}, username: "mailer", wantTLS: true},
		{name: "None without AUTH", mode: "None", server: servers.SMTPOptions{}, wantTLS: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			srv := newSMTPServer(t, tc.server)
			email := welcomeEmail(srv, tc.mode)
			email.Username, email.Password = tc.username, "s3cret"
			exec := newExecutor(func(c *actions.Config) { c.TLSConfig = srv.ClientTLS() })

			res, err := exec.Execute(context.Background(), actions.Request{Kind: actions.KindSendEmail, Origin: origin(), Email: email})
			g.Expect(err).NotTo(HaveOccurred())

			msgs := srv.Messages()
			g.Expect(msgs).To(HaveLen(1))
			got := msgs[0]
			g.Expect(got.TLS).To(Equal(tc.wantTLS))
			g.Expect(got.User).To(Equal(tc.username))
			g.Expect(got.From).To(Equal("sales@example.com"))
			g.Expect(got.To).To(ConsistOf("ann@example.com", "owner@example.com"))

			m := parseMail(g, got.Data)
			wantID := actions.MessageID("0b7e7f1c-uid/welcome")
			g.Expect(wantID).To(MatchRegexp(`^<[0-9a-f]{64}@crmflow>$`))
			g.Expect(m.Header.Get("Message-Id")).To(Equal(wantID))
			g.Expect(m.Header.Get("From")).To(Equal(`"Sales" <sales@example.com>`))
			g.Expect(m.Header.Get("To")).To(Equal("<ann@example.com>"))
			g.Expect(m.Header.Get("Cc")).To(Equal("<owner@example.com>"))
			g.Expect(m.Header.Get("Reply-To")).To(Equal("<replies@example.com>"))
			g.Expect(m.Header.Get("User-Agent")).To(Equal("crmflow-test/1"))
			g.Expect(decodeHeader(g, m.Header.Get("Subject"))).To(Equal("Welcome, Zoë"))
			date, err := m.Header.Date()
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(date).To(BeTemporally("==", t0))
			g.Expect(m.Parts).To(Equal(map[string]string{"text/plain": "Hi Zoë,\nthanks for visiting our website.\n"}))

			g.Expect(res.Output).To(Equal(map[string]any{"messageId": wantID, "to": "ann@example.com"}))
			g.Expect(res.Message).To(ContainSubstring("ann@example.com"))
			g.Expect(res.Message).NotTo(ContainSubstring("s3cret"))
		})
	}
}

func TestSendEmailHTMLAlternative(t *testing.T) {
	g := NewWithT(t)
	srv := newSMTPServer(t, servers.SMTPOptions{StartTLS: true})
	email := welcomeEmail(srv, "StartTLS")
	email.HTML = "<p>Hi <b>Zoë</b></p>"
	exec := newExecutor(func(c *actions.Config) { c.TLSConfig = srv.ClientTLS() })

	_, err := exec.Execute(context.Background(), actions.Request{Kind: actions.KindSendEmail, Origin: origin(), Email: email})
	g.Expect(err).NotTo(HaveOccurred())
	msgs := srv.Messages()
	g.Expect(msgs).To(HaveLen(1))
	m := parseMail(g, msgs[0].Data)
	g.Expect(m.Header.Get("Content-Type")).To(HavePrefix("multipart/alternative"))
	g.Expect(m.Parts).To(Equal(map[string]string{
		"text/plain": "Hi Zoë,\nthanks for visiting our website.\n",
		"text/html":  "<p>Hi <b>Zoë</b></p>",
	}))
}

func TestSendEmailFailures(t *testing.T) {
	tests := []struct {
		name      string
		server    servers.SMTPOptions
		mode      string
		trust     bool
		edit      func(*actions.Email)
		retryable bool
		errHas    []string
		delivered bool
	}{{
		name: "bad To address names the address", server: servers.SMTPOptions{StartTLS: true}, mode: "StartTLS", trust: true,
		edit:   func(e *actions.Email) { e.To = "ann(at)example" },
		errHas: []string{"sendEmail to", `"ann(at)example"`},
	}, {
		name: "bad Cc address names the address", server: servers.SMTPOptions{StartTLS: true}, mode: "StartTLS", trust: true,
		edit:   func(e *actions.Email) { e.Cc = []string{"ok@example.com", "nope"} },
		errHas: []string{"sendEmail cc", `"nope"`},
	}, {
		name: "5xx on RCPT is permanent", mode: "StartTLS", trust: true,
		server: servers.SMTPOptions{StartTLS: true, Rcpt: func(string) error {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		}},
		errHas: []string{"550", "no such user", "ann@example.com"},
	}, {
		name: "4xx on RCPT is transient", mode: "StartTLS", trust: true, retryable: true,
		server: servers.SMTPOptions{StartTLS: true, Rcpt: func(string) error {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
		}},
		errHas: []string{"451", "try again later"},
	}, {
		name: "StartTLS mode refuses a server without STARTTLS", server: servers.SMTPOptions{}, mode: "StartTLS", trust: true,
		errHas: []string{"STARTTLS"},
	}, {
		name: "untrusted certificate is permanent", server: servers.SMTPOptions{StartTLS: true}, mode: "StartTLS", trust: false,
		errHas: []string{"certificate"},
	}, {
		name: "wrong password is permanent and not echoed", mode: "StartTLS", trust: true,
		server: servers.SMTPOptions{StartTLS: true, Users: map[string]string{"mailer": "right"}},
		edit:   func(e *actions.Email) { e.Username, e.Password = "mailer", "wrong-pw" },
		errHas: []string{"535"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			srv := newSMTPServer(t, tc.server)
			email := welcomeEmail(srv, tc.mode)
			if tc.edit != nil {
				tc.edit(email)
			}
			exec := newExecutor(func(c *actions.Config) {
				if tc.trust {
					c.TLSConfig = srv.ClientTLS()
				}
			})
			_, err := exec.Execute(context.Background(), actions.Request{Kind: actions.KindSendEmail, Origin: origin(), Email: email})
			g.Expect(err).To(HaveOccurred())
			g.Expect(actions.IsRetryable(err)).To(Equal(tc.retryable), "error: %v", err)
			for _, s := range tc.errHas {
				g.Expect(err.Error()).To(ContainSubstring(s))
			}
			g.Expect(err.Error()).NotTo(ContainSubstring("wrong-pw"))
			g.Expect(srv.Messages()).To(BeEmpty())
		})
	}
}

func TestSendEmailSameMessageIDOnEveryAttempt(t *testing.T) {
	g := NewWithT(t)
	attempts := 0
	srv := newSMTPServer(t, servers.SMTPOptions{StartTLS: true, Rcpt: func(string) error {
		attempts++
		if attempts == 1 {
			return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "busy"}
		}
		return nil
	}})
	exec := newExecutor(func(c *actions.Config) { c.TLSConfig = srv.ClientTLS() })
	req := actions.Request{Kind: actions.KindSendEmail, Origin: origin(), Email: welcomeEmail(srv, "StartTLS")}

	_, err := exec.Execute(context.Background(), req)
	g.Expect(actions.IsRetryable(err)).To(BeTrue(), "first attempt: %v", err)
	_, err = exec.Execute(context.Background(), req)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = exec.Execute(context.Background(), req) // a repeat after success, e.g. a lost status write
	g.Expect(err).NotTo(HaveOccurred())

	msgs := srv.Messages()
	g.Expect(msgs).To(HaveLen(2))
	ids := []string{parseMail(g, msgs[0].Data).Header.Get("Message-Id"), parseMail(g, msgs[1].Data).Header.Get("Message-Id")}
	g.Expect(ids).To(HaveEach(actions.MessageID("0b7e7f1c-uid/welcome")))

	other := origin()
	other.IdempotencyKey = "0b7e7f1c-uid/follow-up"
	g.Expect(actions.MessageID(other.IdempotencyKey)).NotTo(Equal(ids[0]))
}

func TestSendEmailTimeout(t *testing.T) {
	g := NewWithT(t)
	// Plain SMTP to an implicit-TLS port: the server waits for a TLS
	// ClientHello, the client for a greeting, until the attempt times out.
	srv := newSMTPServer(t, servers.SMTPOptions{ImplicitTLS: true})
	exec := newExecutor()
	_, err := exec.Execute(context.Background(), actions.Request{
		Kind: actions.KindSendEmail, Origin: origin(), Timeout: 200 * time.Millisecond,
		Email: welcomeEmail(srv, "None"),
	})
	g.Expect(err).To(HaveOccurred())
	g.Expect(actions.IsRetryable(err)).To(BeTrue(), "error: %v", err)
	g.Expect(err.Error()).To(ContainSubstring("timed out"))
}
