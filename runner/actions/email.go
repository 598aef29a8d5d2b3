package actions

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	mail "github.com/wneessen/go-mail"
	"k8s.io/utils/clock"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// SMTP connection security modes (v1alpha1.SMTPTLSMode).
const (
	// SMTPStartTLS upgrades a plain connection with STARTTLS and refuses to send without it.
	SMTPStartTLS = "StartTLS"
	// SMTPTLS speaks TLS from the first byte (implicit TLS, usually port 465).
	SMTPTLS = "TLS"
	// SMTPNone sends in the clear.
	SMTPNone = "None"
)

// portByTLSMode is the SMTP port of each mode when Email.Port is zero; the
// default mode's is the API's default port.
var portByTLSMode = map[string]int{SMTPStartTLS: int(v1alpha1.DefaultSMTPPort), SMTPTLS: 465, SMTPNone: 25}

// emailSender sends one message per attempt over SMTP with go-mail.
type emailSender struct {
	clock clock.PassiveClock
	tls   *tls.Config
	agent string
}

// MessageID is the Message-ID header of a step's email, derived from its
// idempotency key so every attempt carries the same one:
// "<sha256-hex-of-key@crmflow>".
func MessageID(idempotencyKey string) string {
	return "<" + messageIDValue(idempotencyKey) + ">"
}

func messageIDValue(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:]) + "@crmflow"
}

// send delivers m; timeout is the attempt's budget (ctx carries the same deadline).
func (s *emailSender) send(ctx context.Context, o Origin, m *Email, timeout time.Duration) (Result, error) {
	mode := m.TLS
	if mode == "" {
		mode = string(v1alpha1.DefaultSMTPTLS)
	}
	port, ok := portByTLSMode[mode]
	if !ok {
		return Result{}, permanent(fmt.Errorf("sendEmail tls mode %q is not StartTLS, TLS or None", m.TLS))
	}
	if m.Port != 0 {
		port = m.Port
	}
	if m.Host == "" {
		return Result{}, permanent(errors.New("sendEmail smtp host is empty"))
	}
	if port < 1 || port > 65535 {
		return Result{}, permanent(fmt.Errorf("sendEmail smtp port %d is out of range", port))
	}
	server := net.JoinHostPort(m.Host, strconv.Itoa(port))

	msg, err := s.message(o, m)
	if err != nil {
		return Result{}, permanent(err)
	}
	client, err := mail.NewClient(m.Host, s.clientOptions(mode, port, timeout, m)...)
	if err != nil {
		return Result{}, permanent(fmt.Errorf("sendEmail via %s: configure SMTP client: %w", server, err))
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return Result{}, classifySMTP(ctx, fmt.Errorf("sendEmail via %s: %w", server, err))
	}
	id := MessageID(o.IdempotencyKey)
	return Result{
		Message: fmt.Sprintf("sent to %s via %s, Message-ID %s", m.To, server, id),
		Output:  map[string]any{"messageId": id, "to": m.To},
	}, nil
}

// message builds the MIME message; a bad address is an error naming the
// field and the address.
func (s *emailSender) message(o Origin, m *Email) (*mail.Msg, error) {
	msg := mail.NewMsg()
	if err := checkAddress("from", m.From); err != nil {
		return nil, err
	}
	if err := msg.From(m.From); err != nil {
		return nil, fmt.Errorf("sendEmail from: invalid address %q: %w", m.From, err)
	}
	if err := checkAddress("to", m.To); err != nil {
		return nil, err
	}
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("sendEmail to: invalid address %q: %w", m.To, err)
	}
	var cc []string
	for _, addr := range m.Cc {
		if strings.TrimSpace(addr) == "" {
			continue // an optional recipient whose template rendered empty
		}
		if err := checkAddress("cc", addr); err != nil {
			return nil, err
		}
		cc = append(cc, addr)
	}
	if len(cc) > 0 {
		if err := msg.Cc(cc...); err != nil {
			return nil, fmt.Errorf("sendEmail cc: invalid address in %q: %w", cc, err)
		}
	}
	if m.ReplyTo != "" {
		if err := checkAddress("replyTo", m.ReplyTo); err != nil {
			return nil, err
		}
		if err := msg.ReplyTo(m.ReplyTo); err != nil {
			return nil, fmt.Errorf("sendEmail replyTo: invalid address %q: %w", m.ReplyTo, err)
		}
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return nil, errors.New("sendEmail subject contains a line break")
	}
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue(messageIDValue(o.IdempotencyKey))
	msg.SetDateWithValue(s.clock.Now())
	msg.SetUserAgent(s.agent)
	msg.SetBodyString(mail.TypeTextPlain, m.Body)
	if m.HTML != "" {
		msg.AddAlternativeString(mail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// checkAddress parses one RFC 5322 address ("Ann <ann@example.com>" or a bare address).
func checkAddress(field, addr string) error {
	if strings.TrimSpace(addr) == "" {
		return fmt.Errorf("sendEmail %s: address is empty", field)
	}
	if _, err := netmail.ParseAddress(addr); err != nil {
		return fmt.Errorf("sendEmail %s: invalid address %q: %w", field, addr, err)
	}
	return nil
}

func (s *emailSender) clientOptions(mode string, port int, timeout time.Duration, m *Email) []mail.Option {
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.tls != nil {
		tlsConfig = s.tls.Clone()
	}
	tlsConfig.ServerName = m.Host

	opts := []mail.Option{
		mail.WithPort(port),
		mail.WithTimeout(timeout),
		mail.WithTLSConfig(tlsConfig),
	}
	switch mode {
	case SMTPTLS:
		opts = append(opts, mail.WithSSL())
	case SMTPNone:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if m.Username != "" {
		// Auto-discovery picks the strongest mechanism the server offers and
		// never sends PLAIN or LOGIN over an unencrypted connection.
		opts = append(opts,
			mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover),
			mail.WithUsername(m.Username),
			mail.WithPassword(m.Password))
	}
	return opts
}

// classifySMTP decides whether another attempt may help: 4xx replies and
// network failures may, 5xx replies, certificate problems, a server without
// STARTTLS in StartTLS mode and unusable AUTH will not.
func classifySMTP(ctx context.Context, err error) error {
	var ne net.Error
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return transient(fmt.Errorf("timed out: %w", err))
	}
	var se *mail.SendError
	if errors.As(err, &se) {
		switch code := se.ErrorCode(); {
		case se.IsTemp() || (code >= 400 && code < 500):
			return transient(err)
		case code >= 500:
			return permanent(err)
		}
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		if te.Code >= 500 {
			return permanent(err)
		}
		return transient(err)
	}
	var recordErr tls.RecordHeaderError
	switch {
	case untrustedCertificate(err), errors.As(err, &recordErr),
		strings.Contains(err.Error(), "does not support STARTTLS"),
		errors.Is(err, mail.ErrNoSupportedAuthDiscovered),
		strings.Contains(err.Error(), "does not support SMTP AUTH"):
		return permanent(err)
	}
	return transient(err)
}

// CheckAddress is the check sendEmail applies to each rendered address;
// admission applies it to addresses that hold no template.
func CheckAddress(field, addr string) error { return checkAddress(field, addr) }
