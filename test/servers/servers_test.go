package servers_test

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/smtp"
	"strconv"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/crmflow/crmflow/test/servers"
)

// reply is what post read: the status, the headers and the whole body.
type reply struct {
	StatusCode int
	Header     http.Header
	Body       string
}

// post sends a POST and reads and closes the answer's body.
func post(t *testing.T, url, body string, header map[string]string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("post %s: %v", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read the answer to %s: %v", url, err)
	}
	return reply{StatusCode: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

func TestHTTPRecordsAndFails(t *testing.T) {
	g := NewWithT(t)
	var seen []int
	h := servers.NewHTTP(func(n int, w http.ResponseWriter, r *http.Request) {
		seen = append(seen, n)
		b, _ := io.ReadAll(r.Body) // the body can be read again
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(b)
	})
	t.Cleanup(h.Close)
	h.FailNext("/hooks/", 2, http.StatusServiceUnavailable, "30")

	for i := range 3 {
		resp := post(t, h.URL+"/hooks/a?x=1", `{"i":`+strconv.Itoa(i)+`}`, map[string]string{"Idempotency-Key": "k"})
		if i < 2 {
			g.Expect(resp.StatusCode).To(Equal(http.StatusServiceUnavailable))
			g.Expect(resp.Header.Get("Retry-After")).To(Equal("30"))
			continue
		}
		g.Expect(resp.StatusCode).To(Equal(http.StatusCreated))
		g.Expect(resp.Body).To(Equal(`{"i":2}`))
	}
	g.Expect(post(t, h.URL+"/other", "", nil).StatusCode).To(Equal(http.StatusCreated))
	g.Expect(seen).To(Equal([]int{2, 3}))

	reqs := h.Requests()
	g.Expect(reqs).To(HaveLen(4))
	g.Expect(reqs[0].Method).To(Equal(http.MethodPost))
	g.Expect(reqs[0].Path).To(Equal("/hooks/a"))
	g.Expect(reqs[0].Query).To(Equal("x=1"))
	g.Expect(reqs[0].Header.Get("Idempotency-Key")).To(Equal("k"))
	g.Expect(string(reqs[1].Body)).To(Equal(`{"i":1}`))
	g.Expect(reqs[1].Seq).To(BeNumerically(">", reqs[0].Seq))
	g.Expect(h.Under("/hooks/")).To(HaveLen(3))
	m, err := reqs[2].JSON()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(m).To(Equal(map[string]any{"i": float64(2)}))

	h.Respond(servers.Answer(http.StatusTeapot, "short", "X-Test", "yes"))
	resp := post(t, h.URL+"/", "", nil)
	g.Expect(resp.StatusCode).To(Equal(http.StatusTeapot))
	g.Expect(resp.Header.Get("X-Test")).To(Equal("yes"))
}

func TestHTTPDefaultAnswer(t *testing.T) {
	h := servers.NewHTTP(nil)
	t.Cleanup(h.Close)
	NewWithT(t).Expect(post(t, h.URL, "", nil).StatusCode).To(Equal(http.StatusOK))
}

func TestRequestCloudEvent(t *testing.T) {
	g := NewWithT(t)
	h := servers.NewHTTP(nil)
	t.Cleanup(h.Close)
	post(t, h.URL+"/binary", `{"tags":["VIP"]}`, map[string]string{
		"Content-Type": "application/json", "Ce-Specversion": "1.0", "Ce-Id": "run/step",
		"Ce-Type": "io.crmflow.contact.tags.add", "Ce-Source": "crmflow", "Ce-Subject": "c-42",
	})
	post(t, h.URL+"/structured", `{"specversion":"1.0","id":"e-1","type":"lead.created","source":"/crm","data":{"id":"l-1"}}`,
		map[string]string{"Content-Type": "application/cloudevents+json"})
	post(t, h.URL+"/plain", `{}`, map[string]string{"Content-Type": "application/json"})

	reqs := h.Requests()
	ev, err := reqs[0].CloudEvent()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ev.Type()).To(Equal("io.crmflow.contact.tags.add"))
	g.Expect(ev.ID()).To(Equal("run/step"))
	g.Expect(ev.Subject()).To(Equal("c-42"))
	g.Expect(string(ev.Data())).To(Equal(`{"tags":["VIP"]}`))

	ev, err = reqs[1].CloudEvent()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ev.Type()).To(Equal("lead.created"))
	g.Expect(string(ev.Data())).To(MatchJSON(`{"id":"l-1"}`))

	_, err = reqs[2].CloudEvent()
	g.Expect(err).To(MatchError(ContainSubstring("/plain")))
}

func newSMTP(t *testing.T, opts servers.SMTPOptions) *servers.SMTP {
	t.Helper()
	s, err := servers.NewSMTP(opts)
	if err != nil {
		t.Fatalf("start SMTP: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func send(c *smtp.Client, from string, to []string, data string) error {
	if err := c.Mail(from); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, data); err != nil {
		return err
	}
	return w.Close()
}

const letter = "Subject: Welcome, Ann\r\nFrom: sales@example.com\r\n\r\nHi Ann\r\n"

func TestSMTPStartTLSAndAuth(t *testing.T) {
	g := NewWithT(t)
	s := newSMTP(t, servers.SMTPOptions{StartTLS: true, Users: map[string]string{"mailer": "pw"}})
	addr := net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	cfg := s.ClientTLS()
	cfg.ServerName = s.Host // net/smtp does not derive it
	dial := func() *smtp.Client {
		c, err := smtp.Dial(addr)
		g.Expect(err).NotTo(HaveOccurred())
		return c
	}

	c := dial()
	g.Expect(c.Mail("sales@example.com")).To(MatchError(ContainSubstring("authenticate")), "MAIL before AUTH")
	g.Expect(c.StartTLS(cfg)).To(Succeed())
	g.Expect(c.Auth(smtp.PlainAuth("", "mailer", "wrong", s.Host))).To(MatchError(ContainSubstring("535")))

	c = dial()
	g.Expect(c.StartTLS(cfg)).To(Succeed())
	g.Expect(c.Auth(smtp.PlainAuth("", "mailer", "pw", s.Host))).To(Succeed())
	g.Expect(send(c, "sales@example.com", []string{"ann@example.com", "owner@example.com"}, letter)).To(Succeed())
	g.Expect(c.Quit()).To(Succeed())

	msgs := s.Messages()
	g.Expect(msgs).To(HaveLen(1))
	g.Expect(msgs[0].From).To(Equal("sales@example.com"))
	g.Expect(msgs[0].To).To(Equal([]string{"ann@example.com", "owner@example.com"}))
	g.Expect(msgs[0].TLS).To(BeTrue())
	g.Expect(msgs[0].User).To(Equal("mailer"))
	g.Expect(msgs[0].Header("subject")).To(Equal("Welcome, Ann"))
	g.Expect(s.To("owner@example.com")).To(HaveLen(1))
	g.Expect(s.To("nobody@example.com")).To(BeEmpty())
}

func TestSMTPPlainAndRcptHook(t *testing.T) {
	g := NewWithT(t)
	s := newSMTP(t, servers.SMTPOptions{Rcpt: func(to string) error {
		if strings.HasPrefix(to, "gone@") {
			return errors.New("no such user")
		}
		return nil
	}})
	c, err := smtp.Dial(net.JoinHostPort(s.Host, strconv.Itoa(s.Port)))
	g.Expect(err).NotTo(HaveOccurred())
	ok, _ := c.Extension("STARTTLS")
	g.Expect(ok).To(BeFalse())
	g.Expect(send(c, "a@example.com", []string{"gone@example.com"}, letter)).To(MatchError(ContainSubstring("no such user")))
	g.Expect(c.Reset()).To(Succeed())
	g.Expect(send(c, "a@example.com", []string{"b@example.com"}, letter)).To(Succeed())
	g.Expect(c.Quit()).To(Succeed())
	msgs := s.Messages()
	g.Expect(msgs).To(HaveLen(1))
	g.Expect(msgs[0].TLS).To(BeFalse())
	g.Expect(msgs[0].User).To(BeEmpty())
	g.Expect(msgs[0].To).To(Equal([]string{"b@example.com"}))
}

func TestSMTPImplicitTLSAndOrder(t *testing.T) {
	g := NewWithT(t)
	h := servers.NewHTTP(nil)
	t.Cleanup(h.Close)
	s := newSMTP(t, servers.SMTPOptions{ImplicitTLS: true})

	post(t, h.URL+"/before", "", nil)
	conn, err := tls.Dial("tcp", net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), s.ClientTLS())
	g.Expect(err).NotTo(HaveOccurred())
	c, err := smtp.NewClient(conn, s.Host)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(send(c, "a@example.com", []string{"b@example.com"}, letter)).To(Succeed())
	g.Expect(c.Quit()).To(Succeed())
	post(t, h.URL+"/after", "", nil)

	msgs, reqs := s.Messages(), h.Requests()
	g.Expect(msgs).To(HaveLen(1))
	g.Expect(msgs[0].TLS).To(BeTrue())
	g.Expect(reqs[0].Seq).To(BeNumerically("<", msgs[0].Seq))
	g.Expect(msgs[0].Seq).To(BeNumerically("<", reqs[1].Seq))
}
