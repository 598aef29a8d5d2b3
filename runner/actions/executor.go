package actions

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"k8s.io/utils/clock"
)

// DefaultTimeout bounds one attempt when Request.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// DefaultMaxResponseBytes caps the response body kept as a step's output.
const DefaultMaxResponseBytes = 4096

// DefaultUserAgent is sent on every HTTP request unless Config.UserAgent says otherwise.
const DefaultUserAgent = "crmflow/v1alpha1"

// HeaderIdempotencyKey carries Origin.IdempotencyKey on every HTTP request,
// the same on every attempt of a step, so a receiver can drop repeats.
const HeaderIdempotencyKey = "Idempotency-Key"

// Config configures the executor NewExecutor returns.
type Config struct {
	// HTTPClient sends every HTTP request (SMS, notifications, webhooks,
	// CloudEvents). Nil: a client with dial, TLS-handshake and idle timeouts.
	// Per-attempt deadlines come from Request.Timeout, not from the client.
	HTTPClient *http.Client
	// MaxResponseBytes caps the response body kept in Result.Output; 0 means
	// DefaultMaxResponseBytes.
	MaxResponseBytes int
	// Clock reads the time for Retry-After HTTP dates, email Date headers and
	// CloudEvent times. Nil: the real clock.
	Clock clock.PassiveClock
	// TLSConfig is the base TLS configuration of SMTP connections (e.g. extra
	// root CAs); ServerName is always set to the SMTP host. Nil: system roots.
	TLSConfig *tls.Config
	// UserAgent of HTTP requests and the User-Agent/X-Mailer of emails;
	// empty means DefaultUserAgent.
	UserAgent string
	// Egress limits the addresses HTTP requests may reach. Nil: the
	// default EgressPolicy (no loopback, link-local or metadata addresses).
	// The check after DNS resolution needs the default HTTPClient; a
	// caller-supplied HTTPClient still gets the URL and redirect checks.
	Egress *EgressPolicy
}

// executor dispatches a Request to the executor of its kind.
type executor struct {
	email   *emailSender
	sms     *smsSender
	notify  *notifier
	http    *httpCaller
	command *commandSender
}

// NewExecutor returns the Executor that performs requests over real
// protocols: SMTP for email, HTTP for SMS, notifications and webhooks, and
// CloudEvents over HTTP (binary mode) for contact and CRM commands. It is
// safe for concurrent use.
func NewExecutor(cfg Config) Executor {
	policy := EgressPolicy{}
	if cfg.Egress != nil {
		policy = *cfg.Egress
	}
	eg, egErr := compileEgress(policy)
	if egErr != nil {
		eg, _ = compileEgress(EgressPolicy{DenyPorts: policy.DenyPorts})
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = defaultHTTPClient(eg)
	} else {
		c := *cfg.HTTPClient
		own := c.CheckRedirect
		c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if err := eg.checkRedirect(req, via); err != nil || own == nil {
				return err
			}
			return own(req, via)
		}
		cfg.HTTPClient = &c
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	t := &transport{
		egress:    eg,
		egressErr: egErr,
		client:    cfg.HTTPClient,
		maxBytes:  cfg.MaxResponseBytes,
		clock:     cfg.Clock,
		agent:     cfg.UserAgent,
	}
	return &executor{
		email:   &emailSender{clock: cfg.Clock, tls: cfg.TLSConfig, agent: cfg.UserAgent},
		sms:     &smsSender{t: t},
		notify:  &notifier{t: t},
		http:    &httpCaller{t: t},
		command: &commandSender{t: t, clock: cfg.Clock},
	}
}

// defaultHTTPClient has the timeouts of http.DefaultTransport but no
// overall client timeout: each attempt's context carries the deadline.
// Every connection and redirect is checked against the egress policy.
func defaultHTTPClient(eg *egress) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{CheckRedirect: eg.checkRedirect, Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           eg.dialContext(dialer),
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   10,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		ExpectContinueTimeout: time.Second,
	}}
}

// Execute performs one attempt of req within req.Timeout (default 30s). The
// executor is chosen by req.Kind; a request without a Kind is dispatched by
// its payload (a Command by its Type).
func (e *executor) Execute(ctx context.Context, req Request) (Result, error) {
	if err := validateOrigin(req.Origin); err != nil {
		return Result{}, permanent(err)
	}
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	if req.Kind == "" {
		req.Kind = inferKind(req)
	}
	switch {
	case req.Kind == KindSendEmail:
		if req.Email == nil {
			return Result{}, missingPayload(req.Kind, "Email")
		}
		return e.email.send(ctx, req.Origin, req.Email, timeout)
	case req.Kind == KindSendSMS:
		if req.SMS == nil {
			return Result{}, missingPayload(req.Kind, "SMS")
		}
		return e.sms.send(ctx, req.Origin, req.SMS)
	case req.Kind == KindNotify:
		if req.Notify == nil {
			return Result{}, missingPayload(req.Kind, "Notify")
		}
		return e.notify.send(ctx, req.Origin, req.Notify)
	case IsHTTPCall(req.Kind):
		if req.HTTP == nil {
			return Result{}, missingPayload(req.Kind, "HTTP")
		}
		return e.http.call(ctx, req.Kind, req.Origin, req.HTTP)
	case IsCommand(req.Kind):
		if req.Command == nil {
			return Result{}, missingPayload(req.Kind, "Command")
		}
		return e.command.send(ctx, req.Kind, req.Origin, req.Command)
	default:
		return Result{}, permanent(fmt.Errorf("unknown action kind %q", req.Kind))
	}
}

// inferKind names the kind of a request that sets none by its payload.
func inferKind(req Request) Kind {
	switch {
	case req.Email != nil:
		return KindSendEmail
	case req.SMS != nil:
		return KindSendSMS
	case req.Notify != nil:
		return KindNotify
	case req.HTTP != nil:
		return KindCallWebhook
	case req.Command != nil:
		for k, t := range commandTypes {
			if t == req.Command.Type {
				return k
			}
		}
	}
	return ""
}

// validateOrigin checks what every executor relies on: the idempotency key.
func validateOrigin(o Origin) error {
	if o.IdempotencyKey == "" {
		return errors.New("origin.idempotencyKey is required: every attempt of a step carries it")
	}
	return nil
}

func missingPayload(k Kind, field string) error {
	return permanent(fmt.Errorf("%s request has no %s payload", k, field))
}

// permanent marks err as not worth another attempt.
func permanent(err error) *Error {
	return &Error{Retryable: false, Err: err}
}

// transient marks err as worth another attempt.
func transient(err error) *Error {
	return &Error{Retryable: true, Err: err}
}
