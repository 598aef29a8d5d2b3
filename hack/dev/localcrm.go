package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/crmflow/crmflow/internal/mailsink"
)

// localCRM stands in for the CRM platform, the notification hooks, the SMS
// provider, webhook and Zapier targets and the mail server, so a developer
// sees every side effect in the terminal. Its endpoints (also in the banner
// and docs/actions.md):
//
//	POST /crm              CloudEvents sink of contact and CRM commands (--crm-sink-url, connections.crm.sinkURL)
//	POST /notify/<name>    notification hooks (connections.notify, Secret crmflow-notify)
//	POST /sms              SMS provider, JSON or Twilio form (connections.sms.url)
//	ANY  /webhook/<name>   callWebhook and updateExternalCRM targets (url or urlFrom, Secret crmflow-hooks)
//	POST /zapier/<name>    Zapier-style catch hooks (triggerZapier.hookURLSecretRef, Secret crmflow-hooks)
//	SMTP 127.0.0.1:2525    mail server without TLS or authentication (connections.smtp: tls None)
type localCRM struct {
	sink     *http.Server
	sinkAddr string
	mail     *mailsink.Server
	mailAddr string
}

func startLocalCRM(sinkAddr, smtpAddr string) (*localCRM, error) {
	sinkLn, err := net.Listen("tcp", sinkAddr)
	if err != nil {
		return nil, fmt.Errorf("listen for the local CRM on %s: %w", sinkAddr, err)
	}
	mailLn, err := net.Listen("tcp", smtpAddr)
	if err != nil {
		_ = sinkLn.Close()
		return nil, fmt.Errorf("listen for the local mailbox on %s: %w", smtpAddr, err)
	}
	c := &localCRM{sinkAddr: sinkLn.Addr().String(), mailAddr: mailLn.Addr().String()}

	mux := http.NewServeMux()
	mux.HandleFunc("/crm", c.handleCommand)
	mux.HandleFunc("/notify/", c.handleNotify)
	mux.HandleFunc("/sms", c.handleHook("SMS"))
	mux.HandleFunc("/webhook/", c.handleHook("webhook"))
	mux.HandleFunc("/zapier/", c.handleHook("Zapier hook"))
	c.sink = &http.Server{Handler: mux}
	go func() { _ = c.sink.Serve(sinkLn) }()

	c.mail = mailsink.Serve(mailLn, printMail)

	say("local CRM on http://%s (commands /crm, /notify/<name>, /sms, /webhook/<name>, /zapier/<name>), SMTP server on %s",
		c.sinkAddr, c.mailAddr)
	return c, nil
}

// SinkURL is where crmflow sends contact and CRM commands.
func (c *localCRM) SinkURL() string { return "http://" + c.sinkAddr + "/crm" }

// NotifyURL is a notification hook named name.
func (c *localCRM) NotifyURL(name string) string { return "http://" + c.sinkAddr + "/notify/" + name }

// URL is the local CRM's URL for path.
func (c *localCRM) URL(path string) string { return "http://" + c.sinkAddr + path }

// SMTPHostPort is the mail server's address.
func (c *localCRM) SMTPHostPort() (string, int) {
	host, port, _ := net.SplitHostPort(c.mailAddr)
	p, _ := strconv.Atoi(port)
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

// handleHook prints any request to an HTTP target (SMS, webhooks, Zapier).
func (c *localCRM) handleHook(what string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		crmSay("%s %s %s (Idempotency-Key %s): %s", what, r.Method, r.URL.Path, r.Header.Get("Idempotency-Key"), oneLine(body))
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	}
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

// printMail prints a message the local mailbox received.
func printMail(m mailsink.Message) {
	crmSay("email from %s to %s: %q\n%s", m.From, strings.Join(m.To, ", "), m.Subject,
		"      | "+strings.Join(m.Body, "\n      | "))
}

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
