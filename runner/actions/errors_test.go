package actions_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/crmflow/crmflow/runner/actions"
	"github.com/crmflow/crmflow/test/servers"
)

func webhookTo(u string) actions.Request {
	return actions.Request{
		Kind: actions.KindCallWebhook, Origin: origin(),
		HTTP: &actions.HTTPCall{URL: u, Body: []byte(`{"a":1}`)},
	}
}

func TestHTTPErrorClassification(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		body       string
		retryAfter string
		retryable  bool
		wantAfter  time.Duration
	}{
		{name: "400 is permanent", status: http.StatusBadRequest, body: `{"error":"missing field email"}`},
		{name: "401 is permanent", status: http.StatusUnauthorized},
		{name: "404 is permanent", status: http.StatusNotFound},
		{name: "422 is permanent even with Retry-After", status: http.StatusUnprocessableEntity, retryAfter: "5", wantAfter: 5 * time.Second},
		{name: "408 is retryable", status: http.StatusRequestTimeout, retryable: true},
		{name: "429 with delta-seconds Retry-After", status: http.StatusTooManyRequests, body: "slow down", retryAfter: "120", retryable: true, wantAfter: 2 * time.Minute},
		{name: "429 with an HTTP-date Retry-After, read against the injected clock", status: http.StatusTooManyRequests,
			retryAfter: t0.Add(90 * time.Second).Format(http.TimeFormat), retryable: true, wantAfter: 90 * time.Second},
		{name: "Retry-After in the past is ignored", status: http.StatusTooManyRequests, retryAfter: t0.Add(-time.Hour).Format(http.TimeFormat), retryable: true},
		{name: "garbage Retry-After is ignored", status: http.StatusServiceUnavailable, retryAfter: "soon", retryable: true},
		{name: "absurd Retry-After is capped at a day", status: http.StatusServiceUnavailable, retryAfter: "99999999999999", retryable: true, wantAfter: 24 * time.Hour},
		{name: "500 is retryable", status: http.StatusInternalServerError, body: "boom", retryable: true},
		{name: "503 with Retry-After", status: http.StatusServiceUnavailable, retryAfter: "7", retryable: true, wantAfter: 7 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			var headers []string
			if tc.retryAfter != "" {
				headers = []string{"Retry-After", tc.retryAfter}
			}
			srv := newHTTPTarget(t, servers.Answer(tc.status, tc.body, headers...))
			_, err := newExecutor().Execute(context.Background(), webhookTo(srv.URL+"/x"))
			var ae *actions.Error
			g.Expect(errors.As(err, &ae)).To(BeTrue(), "want *actions.Error, got %v", err)
			g.Expect(ae.StatusCode).To(Equal(tc.status))
			g.Expect(actions.IsRetryable(err)).To(Equal(tc.retryable))
			g.Expect(actions.RetryAfter(err)).To(Equal(tc.wantAfter))
			g.Expect(err.Error()).To(ContainSubstring("callWebhook POST http://127.0.0.1"))
			g.Expect(err.Error()).To(ContainSubstring(http.StatusText(tc.status)))
			if tc.body != "" {
				g.Expect(err.Error()).To(ContainSubstring(strings.Trim(strconv.Quote(tc.body), `"`)))
			}
		})
	}
}

func TestNetworkFailuresAreRetryable(t *testing.T) {
	t.Run("connection refused", func(t *testing.T) {
		g := NewWithT(t)
		l, err := net.Listen("tcp", "127.0.0.1:0")
		g.Expect(err).NotTo(HaveOccurred())
		addr := l.Addr().String()
		g.Expect(l.Close()).To(Succeed())

		_, err = newExecutor().Execute(context.Background(), webhookTo("http://"+addr+"/hook?token=SECRET"))
		g.Expect(err).To(HaveOccurred())
		g.Expect(actions.IsRetryable(err)).To(BeTrue())
		var ae *actions.Error
		g.Expect(errors.As(err, &ae)).To(BeTrue())
		g.Expect(ae.StatusCode).To(BeZero())
		g.Expect(err.Error()).To(ContainSubstring("connection refused"))
		g.Expect(err.Error()).NotTo(ContainSubstring("SECRET"))
	})

	t.Run("timeout", func(t *testing.T) {
		g := NewWithT(t)
		// The handler answers only when the client gives up.
		srv := newHTTPTarget(t, func(_ int, w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
		req := webhookTo(srv.URL + "/slow")
		req.Timeout = 100 * time.Millisecond
		_, err := newExecutor().Execute(context.Background(), req)
		g.Expect(err).To(HaveOccurred())
		g.Expect(actions.IsRetryable(err)).To(BeTrue())
		g.Expect(err.Error()).To(ContainSubstring("timed out"))
		g.Expect(errors.Is(err, context.DeadlineExceeded)).To(BeTrue())
	})

	t.Run("caller's context cancelled", func(t *testing.T) {
		g := NewWithT(t)
		srv := newHTTPTarget(t, nil)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := newExecutor().Execute(ctx, webhookTo(srv.URL))
		g.Expect(err).To(HaveOccurred())
		g.Expect(errors.Is(err, context.Canceled)).To(BeTrue())
		g.Expect(srv.Requests()).To(BeEmpty())
	})
}

func TestSameIdempotencyKeyOnEveryAttempt(t *testing.T) {
	failTwice := func(n int, w http.ResponseWriter, _ *http.Request) {
		if n < 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}
	tests := []struct {
		name   string
		req    func(url string) actions.Request
		header string
	}{
		{name: "webhook", req: webhookTo, header: "Idempotency-Key"},
		{name: "sms", header: "Idempotency-Key", req: func(u string) actions.Request {
			return actions.Request{Kind: actions.KindSendSMS, Origin: origin(), SMS: &actions.SMS{URL: u, To: "+1555", Body: "hi"}}
		}},
		{name: "notify", header: "Idempotency-Key", req: func(u string) actions.Request {
			return actions.Request{Kind: actions.KindNotify, Origin: origin(), Notify: &actions.Notification{WebhookURL: u, Text: "hi"}}
		}},
		{name: "command (CloudEvent id)", header: "Ce-Id", req: func(u string) actions.Request {
			return actions.Request{Kind: actions.KindAddTags, Origin: origin(), Command: &actions.Command{SinkURL: u, Data: map[string]any{"tags": []string{"VIP"}}}}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			srv := newHTTPTarget(t, failTwice)
			exec := newExecutor()
			var errs []error
			for range 3 {
				_, err := exec.Execute(context.Background(), tc.req(srv.URL))
				errs = append(errs, err)
			}
			g.Expect(actions.IsRetryable(errs[0])).To(BeTrue())
			g.Expect(actions.IsRetryable(errs[1])).To(BeTrue())
			g.Expect(errs[2]).NotTo(HaveOccurred())
			reqs := srv.Requests()
			g.Expect(reqs).To(HaveLen(3))
			for _, r := range reqs {
				g.Expect(r.Header.Get(tc.header)).To(Equal("0b7e7f1c-uid/welcome"))
				g.Expect(r.Header.Get("Idempotency-Key")).To(Equal("0b7e7f1c-uid/welcome"))
			}
		})
	}
}

func TestResponseBody(t *testing.T) {
	big := strings.Repeat("x", 10000)
	tests := []struct {
		name      string
		max       int
		respond   servers.Responder
		wantBody  any
		truncated bool
	}{
		{name: "capped at MaxResponseBytes", max: 100, respond: servers.Answer(http.StatusOK, big, "Content-Type", "text/plain"), wantBody: big[:100], truncated: true},
		{name: "default cap is 4096", respond: servers.Answer(http.StatusOK, big, "Content-Type", "text/plain"), wantBody: big[:4096], truncated: true},
		{name: "truncated JSON stays a string", max: 10, respond: servers.Answer(http.StatusOK, `{"id":"abcdefghijkl"}`, "Content-Type", "application/json"), wantBody: `{"id":"abc`, truncated: true},
		{name: "JSON by media type", respond: servers.Answer(http.StatusOK, `[1,"two"]`, "Content-Type", "application/problem+json"), wantBody: []any{float64(1), "two"}},
		{name: "ids above 2^53 stay exact", respond: servers.Answer(http.StatusOK, `{"id":9007199254740993,"ids":[123456789012345678],"score":7}`, "Content-Type", "application/json"),
			wantBody: map[string]any{"id": int64(9007199254740993), "ids": []any{int64(123456789012345678)}, "score": float64(7)}},
		{name: "ids above 2^53 stay exact in JSON without a media type", respond: servers.Answer(http.StatusOK, `{"id":-9007199254740993}`, "Content-Type", ""),
			wantBody: map[string]any{"id": int64(-9007199254740993)}},
		{name: "text stays text", respond: servers.Answer(http.StatusOK, `{"looks":"like json"}`, "Content-Type", "text/plain"), wantBody: `{"looks":"like json"}`},
		{name: "empty body", respond: servers.Answer(http.StatusNoContent, ""), wantBody: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			srv := newHTTPTarget(t, tc.respond)
			exec := newExecutor(func(c *actions.Config) { c.MaxResponseBytes = tc.max })
			res, err := exec.Execute(context.Background(), webhookTo(srv.URL))
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(res.Output).To(HaveKeyWithValue("body", tc.wantBody))
			if tc.truncated {
				g.Expect(res.Output).To(HaveKeyWithValue("truncated", true))
			} else {
				g.Expect(res.Output).NotTo(HaveKey("truncated"))
			}
		})
	}
}

func TestSecretsStayOutOfMessages(t *testing.T) {
	tests := []struct {
		name string
		req  func(base string) actions.Request
	}{
		{name: "notify hook URL", req: func(base string) actions.Request {
			return actions.Request{Kind: actions.KindNotify, Origin: origin(), Notify: &actions.Notification{WebhookURL: base + "/services/T0/B0/SECRET", Text: "x"}}
		}},
		{name: "zapier hook URL", req: func(base string) actions.Request {
			return actions.Request{Kind: actions.KindTriggerZapier, Origin: origin(), HTTP: &actions.HTTPCall{URL: base + "/hooks/catch/1/SECRET/"}}
		}},
		{name: "webhook URL from a Secret (urlFrom)", req: func(base string) actions.Request {
			return actions.Request{Kind: actions.KindCallWebhook, Origin: origin(), HTTP: &actions.HTTPCall{URL: base + "/bot42:SECRET/sendMessage", SecretURL: true}}
		}},
		{name: "updateExternalCRM URL from a Secret (urlFrom)", req: func(base string) actions.Request {
			return actions.Request{Kind: actions.KindUpdateExternalCRM, Origin: origin(), HTTP: &actions.HTTPCall{URL: base + "/SECRET/contacts", SecretURL: true}}
		}},
		{name: "webhook query and user info", req: func(base string) actions.Request {
			u := strings.Replace(base, "http://", "http://user:SECRET@", 1) + "/hook?api_key=SECRET"
			return actions.Request{Kind: actions.KindCallWebhook, Origin: origin(), HTTP: &actions.HTTPCall{URL: u}}
		}},
		{name: "sms token", req: func(base string) actions.Request {
			return actions.Request{Kind: actions.KindSendSMS, Origin: origin(), SMS: &actions.SMS{URL: base + "/sms?key=SECRET", Token: "SECRET", To: "+1", Body: "b"}}
		}},
		{name: "sink token", req: func(base string) actions.Request {
			return actions.Request{Kind: actions.KindAddTags, Origin: origin(), Command: &actions.Command{SinkURL: base + "/?t=SECRET", Token: "SECRET"}}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			ok := newHTTPTarget(t, servers.Answer(http.StatusOK, "fine"))
			res, err := newExecutor().Execute(context.Background(), tc.req(ok.URL))
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(res.Message).NotTo(ContainSubstring("SECRET"))
			g.Expect(res.Message).To(ContainSubstring("127.0.0.1"))

			failing := newHTTPTarget(t, servers.Answer(http.StatusBadGateway, "upstream down"))
			_, err = newExecutor().Execute(context.Background(), tc.req(failing.URL))
			g.Expect(err).To(HaveOccurred())
			g.Expect(err.Error()).NotTo(ContainSubstring("SECRET"))
			g.Expect(err.Error()).To(ContainSubstring("upstream down"))

			// A server moving the URL to https answers with the URL itself.
			moved := newHTTPTarget(t, func(_ int, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Location", "https://"+r.Host+r.URL.RequestURI())
				w.WriteHeader(http.StatusMovedPermanently)
			})
			_, err = newExecutor().Execute(context.Background(), tc.req(moved.URL))
			g.Expect(err).To(HaveOccurred())
			g.Expect(err.Error()).To(ContainSubstring("Moved Permanently with Location https://127.0.0.1"))
			g.Expect(err.Error()).NotTo(ContainSubstring("SECRET"))
		})
	}
}

func TestBadRequestsArePermanentAndSendNothing(t *testing.T) {
	srv := newHTTPTarget(t, nil)
	noKey := origin()
	noKey.IdempotencyKey = ""
	tests := []struct {
		name   string
		req    actions.Request
		errHas string
	}{
		{name: "no idempotency key", req: actions.Request{Kind: actions.KindCallWebhook, Origin: noKey, HTTP: &actions.HTTPCall{URL: srv.URL}}, errHas: "idempotencyKey"},
		{name: "unknown kind", req: actions.Request{Kind: "wait", Origin: origin()}, errHas: `unknown action kind "wait"`},
		{name: "no kind, no payload", req: actions.Request{Origin: origin()}, errHas: `unknown action kind ""`},
		{name: "no kind, command of unknown type", req: actions.Request{Origin: origin(), Command: &actions.Command{SinkURL: srv.URL, Type: "io.example.x"}}, errHas: `unknown action kind ""`},
		{name: "payload missing", req: actions.Request{Kind: actions.KindSendSMS, Origin: origin(), HTTP: &actions.HTTPCall{URL: srv.URL}}, errHas: "sendSMS request has no SMS payload"},
		{name: "ftp URL", req: actions.Request{Kind: actions.KindCallWebhook, Origin: origin(), HTTP: &actions.HTTPCall{URL: "ftp://127.0.0.1/x"}}, errHas: `callWebhook url must be an http or https URL, got scheme "ftp"`},
		{name: "URL without host", req: actions.Request{Kind: actions.KindTriggerZapier, Origin: origin(), HTTP: &actions.HTTPCall{URL: "http:///SECRET"}}, errHas: "triggerZapier url has no host"},
		{name: "bad method", req: actions.Request{Kind: actions.KindCallWebhook, Origin: origin(), HTTP: &actions.HTTPCall{Method: "GE T", URL: srv.URL}}, errHas: `method "GE T"`},
		{name: "bad header name", req: actions.Request{Kind: actions.KindCallWebhook, Origin: origin(), HTTP: &actions.HTTPCall{URL: srv.URL, Headers: map[string]string{"X Bad": "v"}}}, errHas: `header name "X Bad"`},
		{name: "header value with newline", req: actions.Request{Kind: actions.KindCallWebhook, Origin: origin(), HTTP: &actions.HTTPCall{URL: srv.URL, Headers: map[string]string{"Authorization": "a\nSECRET"}}}, errHas: `header "Authorization" has an invalid value`},
		{name: "SMS token from a Secret with a trailing newline", req: actions.Request{Kind: actions.KindSendSMS, Origin: origin(), SMS: &actions.SMS{URL: srv.URL, Token: "SECRET\n", To: "+1", Body: "b"}}, errHas: `sendSMS POST ` + srv.URL + `: header "Authorization" has an invalid value`},
		{name: "sink token from a Secret with a trailing newline", req: actions.Request{Kind: actions.KindAddTags, Origin: origin(), Command: &actions.Command{SinkURL: srv.URL, Token: "SECRET\r\n"}}, errHas: `header "Authorization" has an invalid value`},
		{name: "body not JSON", req: actions.Request{Kind: actions.KindUpdateExternalCRM, Origin: origin(), HTTP: &actions.HTTPCall{URL: srv.URL, Body: []byte(`{"a":`)}}, errHas: "updateExternalCRM body is not valid JSON"},
		{name: "bad success code", req: actions.Request{Kind: actions.KindCallWebhook, Origin: origin(), HTTP: &actions.HTTPCall{URL: srv.URL, SuccessCodes: []int{42}}}, errHas: "successCodes: 42"},
		{name: "unknown SMS format", req: actions.Request{Kind: actions.KindSendSMS, Origin: origin(), SMS: &actions.SMS{URL: srv.URL, Format: "XML", To: "+1", Body: "b"}}, errHas: `format "XML"`},
		{name: "SMS without recipient", req: actions.Request{Kind: actions.KindSendSMS, Origin: origin(), SMS: &actions.SMS{URL: srv.URL, Body: "b"}}, errHas: "sendSMS to is empty"},
		{name: "notify without text", req: actions.Request{Kind: actions.KindNotify, Origin: origin(), Notify: &actions.Notification{WebhookURL: srv.URL}}, errHas: "notify message is empty"},
		{name: "command without subject", req: actions.Request{Kind: actions.KindAddTags, Origin: actions.Origin{Namespace: "n", Workflow: "w", IdempotencyKey: "k"}, Command: &actions.Command{SinkURL: srv.URL}}, errHas: "has no subject"},
		{name: "command without sink", req: actions.Request{Kind: actions.KindAddTags, Origin: origin(), Command: &actions.Command{}}, errHas: "addTags sinkURL is required"},
		{name: "email without host", req: actions.Request{Kind: actions.KindSendEmail, Origin: origin(), Email: &actions.Email{From: "a@b.c", To: "d@e.f", Subject: "s", Body: "b"}}, errHas: "smtp host is empty"},
		{name: "email bad TLS mode", req: actions.Request{Kind: actions.KindSendEmail, Origin: origin(), Email: &actions.Email{Host: "127.0.0.1", TLS: "SSL"}}, errHas: `tls mode "SSL"`},
		{name: "email subject with line break", req: actions.Request{Kind: actions.KindSendEmail, Origin: origin(), Email: &actions.Email{Host: "127.0.0.1", From: "a@b.c", To: "d@e.f", Subject: "s\r\nBcc: x@y.z", Body: "b"}}, errHas: "subject contains a line break"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			_, err := newExecutor().Execute(context.Background(), tc.req)
			g.Expect(err).To(HaveOccurred())
			g.Expect(actions.IsRetryable(err)).To(BeFalse(), "error: %v", err)
			g.Expect(err.Error()).To(ContainSubstring(tc.errHas))
			g.Expect(err.Error()).NotTo(ContainSubstring("SECRET"))
		})
	}
	NewWithT(t).Expect(srv.Requests()).To(BeEmpty())
}

func TestUntrustedHTTPSCertificateIsPermanent(t *testing.T) {
	g := NewWithT(t)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	t.Cleanup(srv.Close)
	// The default client trusts the system roots only, not httptest's certificate.
	_, err := newExecutor().Execute(context.Background(), webhookTo(srv.URL))
	g.Expect(err).To(HaveOccurred())
	g.Expect(actions.IsRetryable(err)).To(BeFalse(), "error: %v", err)
	g.Expect(err.Error()).To(ContainSubstring("certificate"))

	// With the server's CA trusted the same request succeeds.
	_, err = newExecutor(func(c *actions.Config) { c.HTTPClient = srv.Client() }).Execute(context.Background(), webhookTo(srv.URL))
	g.Expect(err).NotTo(HaveOccurred())
}
