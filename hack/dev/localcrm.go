package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/emersion/go-smtp"
)

// localCRM stands in for the CRM platform, the notification hooks and the
// mail server, so a developer sees every side effect in the terminal.
type localCRM struct {
	sink     *http.Server
	sinkAddr string
	mail     *smtp.Server
	mailAddr string
}

func startLocalCRM(sinkAddr, smtpAddr string) (*localCRM, error) {
	sinkLn, err := net.Listen("tcp", sinkAddr)
	if err != nil {
		return nil, fmt.Errorf("listen for the local CRM on %s: %w", sinkAddr, err)
	}
	mailLn, err := net.Listen("tcp", smtpAddr)
	if err != nil {
		sinkLn.Close()
		return nil, fmt.Errorf("listen for the local mailbox on %s: %w", smtpAddr, err)
	}
	c := &localCRM{sinkAddr: sinkLn.Addr().String(), mailAddr: mailLn.Addr().String()}

	mux := http.NewServeMux()
	mux.HandleFunc("/crm", c.handleCommand)
	mux.HandleFunc("/notify/", c.handleNotify)
	c.sink = &http.Server{Handler: mux}
	go func() { _ = c.sink.Serve(sinkLn) }()

	c.mail = smtp.NewServer(mailBackend{})
	c.mail.Domain = "localhost"
	c.mail.AllowInsecureAuth = true
	go func() { _ = c.mail.Serve(mailLn) }()

	say("local CRM sink on http://%s/crm, notification hooks on http://%s/notify/<name>, SMTP mailbox on %s",
		c.sinkAddr, c.sinkAddr, c.mailAddr)
	return c, nil
}

// SinkURL is where crmflow sends contact and CRM commands.
func (c *localCRM) SinkURL() string { return "http://" + c.sinkAddr + "/crm" }

// NotifyURL is a notification hook named name.
func (c *localCRM) NotifyURL(name string) string { return "http://" + c.sinkAddr + "/notify/" + name }

// SMTPHostPort is the mailbox's address.
func (c *localCRM) SMTPHostPort() (string, int) {
	host, port, _ := net.SplitHostPort(c.mailAddr)
	var p int
	fmt.Sscanf(port, "%d", &p)
	return host, p
}

func (c *localCRM) Close() {
	_ = c.sink.Close()
	_ = c.mail.Close()
}

func (c *localCRM) handleCommand(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	crmSay("command %s for %s (id %s, hops %s): %s", r.Header.Get("ce-type"), r.Header.Get("ce-subject"),
		r.Header.Get("ce-id"), r.Header.Get("ce-crmflowhops"), oneLine(body))
	w.WriteHeader(http.StatusAccepted)
}

func (c *localCRM) handleNotify(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	crmSay("notification to %s: %s", strings.TrimPrefix(r.URL.Path, "/notify/"), oneLine(body))
	w.WriteHeader(http.StatusOK)
}

var sayMu sync.Mutex

func crmSay(format string, args ...any) {
	sayMu.Lock()
	defer sayMu.Unlock()
	fmt.Printf("[crm] "+format+"\n", args...)
}

func oneLine(b []byte) string {
	return strings.Join(strings.Fields(string(bytes.TrimSpace(b))), " ")
}

// mailBackend prints every message it receives.
type mailBackend struct{}

func (mailBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return &mailSession{}, nil }

type mailSession struct {
	from string
	to   []string
}

func (s *mailSession) AuthMechanisms() []string { return nil }
func (s *mailSession) Auth(string) (smtp.Session, error) {
	return nil, errors.New("no auth")
}
func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *mailSession) Data(r io.Reader) error {
	subject := ""
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			break
		}
		if strings.HasPrefix(strings.ToLower(line), "subject:") {
			subject = strings.TrimSpace(line[len("subject:"):])
		}
	}
	_, _ = io.Copy(io.Discard, r)
	crmSay("email from %s to %s: %q", s.from, strings.Join(s.to, ", "), subject)
	return nil
}
func (s *mailSession) Reset()        { s.from, s.to = "", nil }
func (s *mailSession) Logout() error { return nil }

// prefixWriter prefixes every line written to w.
func prefixWriter(prefix string, w io.Writer) io.Writer {
	pr, pw := io.Pipe()
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			sayMu.Lock()
			fmt.Fprintln(w, prefix+sc.Text())
			sayMu.Unlock()
		}
	}()
	return pw
}
