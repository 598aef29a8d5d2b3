package actions_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/crmflow/crmflow/runner/actions"
	"github.com/crmflow/crmflow/test/servers"
)

var t0 = time.Date(2026, 3, 2, 14, 30, 0, 0, time.UTC)

// origin is the Origin of step "welcome" of run "lead-follow-up-abc" in namespace "sales".
func origin() actions.Origin {
	return actions.Origin{
		Namespace:      "sales",
		Workflow:       "lead-follow-up",
		Run:            "lead-follow-up-abc",
		RunUID:         "0b7e7f1c-uid",
		Step:           "welcome",
		Subject:        "contact-42",
		IdempotencyKey: "0b7e7f1c-uid/welcome",
	}
}

// allowLoopback lets the tests reach their servers on 127.0.0.1, which the
// default egress policy refuses.
var allowLoopback = &actions.EgressPolicy{Allow: []string{"127.0.0.1"}}

func newExecutor(opts ...func(*actions.Config)) actions.Executor {
	cfg := actions.Config{Clock: clocktesting.NewFakePassiveClock(t0), UserAgent: "crmflow-test/1", Egress: allowLoopback}
	for _, o := range opts {
		o(&cfg)
	}
	return actions.NewExecutor(cfg)
}

func decodeJSON(g Gomega, b []byte) map[string]any {
	var m map[string]any
	g.Expect(json.Unmarshal(b, &m)).To(Succeed(), "body %q", b)
	return m
}

func TestHTTPCallKinds(t *testing.T) {
	type want struct {
		method, path, query string
		headers             map[string]string
		body                map[string]any
	}
	tests := []struct {
		name string
		kind actions.Kind
		call func(base string) *actions.HTTPCall
		want want
	}{{
		name: "callWebhook POSTs the JSON body with its headers",
		kind: actions.KindCallWebhook,
		call: func(base string) *actions.HTTPCall {
			return &actions.HTTPCall{
				Method:  http.MethodPost,
				URL:     base + "/hooks/lead?source=crmflow",
				Headers: map[string]string{"X-Api-Key": "k-123", "Idempotency-Key": "forged"},
				Body:    []byte(`{"lead":"L-1","score":7}`),
			}
		},
		want: want{
			method: http.MethodPost, path: "/hooks/lead", query: "source=crmflow",
			headers: map[string]string{"X-Api-Key": "k-123", "Content-Type": "application/json"},
			body:    map[string]any{"lead": "L-1", "score": float64(7)},
		},
	}, {
		name: "updateExternalCRM PATCHes the record",
		kind: actions.KindUpdateExternalCRM,
		call: func(base string) *actions.HTTPCall {
			return &actions.HTTPCall{
				Method:  http.MethodPatch,
				URL:     base + "/sobjects/Contact/003XYZ",
				Headers: map[string]string{"Authorization": "Bearer sf-token"},
				Body:    []byte(`{"object":"Contact","id":"003XYZ","fields":{"Stage":"Hot"}}`),
			}
		},
		want: want{
			method: http.MethodPatch, path: "/sobjects/Contact/003XYZ",
			headers: map[string]string{"Authorization": "Bearer sf-token", "Content-Type": "application/json"},
			body:    map[string]any{"object": "Contact", "id": "003XYZ", "fields": map[string]any{"Stage": "Hot"}},
		},
	}, {
		name: "triggerZapier POSTs to the catch hook (method defaults to POST)",
		kind: actions.KindTriggerZapier,
		call: func(base string) *actions.HTTPCall {
			return &actions.HTTPCall{URL: base + "/hooks/catch/123/abcdef/", Body: []byte(`{"contact":"contact-42"}`)}
		},
		want: want{
			method: http.MethodPost, path: "/hooks/catch/123/abcdef/",
			headers: map[string]string{"Content-Type": "application/json"},
			body:    map[string]any{"contact": "contact-42"},
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			srv := newHTTPTarget(t, servers.Answer(http.StatusCreated, `{"id":"rec-9","ok":true}`, "Content-Type", "application/json", "Location", "/rec-9"))

			res, err := newExecutor().Execute(context.Background(), actions.Request{
				Kind: tc.kind, Origin: origin(), HTTP: tc.call(srv.URL),
			})
			g.Expect(err).NotTo(HaveOccurred())

			reqs := srv.Requests()
			g.Expect(reqs).To(HaveLen(1))
			got := reqs[0]
			g.Expect(got.Method).To(Equal(tc.want.method))
			g.Expect(got.Path).To(Equal(tc.want.path))
			g.Expect(got.Query).To(Equal(tc.want.query))
			g.Expect(got.Header.Get("Idempotency-Key")).To(Equal("0b7e7f1c-uid/welcome"))
			g.Expect(got.Header.Get("User-Agent")).To(Equal("crmflow-test/1"))
			for k, v := range tc.want.headers {
				g.Expect(got.Header.Get(k)).To(Equal(v), "header %s", k)
			}
			g.Expect(decodeJSON(g, got.Body)).To(Equal(tc.want.body))

			g.Expect(res.Output).To(Equal(map[string]any{
				"status":  201,
				"headers": map[string]any{"content-type": "application/json", "location": "/rec-9"},
				"body":    map[string]any{"id": "rec-9", "ok": true},
			}))
		})
	}
}

func TestHTTPCallSuccessCodes(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		codes     []int
		wantErr   bool
		retryable bool
	}{
		{name: "any 2xx by default", status: http.StatusAccepted},
		{name: "listed non-2xx accepted", status: http.StatusConflict, codes: []int{200, 409}},
		{name: "unlisted 2xx refused", status: http.StatusNoContent, codes: []int{200}, wantErr: true},
		{name: "3xx refused without retry", status: http.StatusNotModified, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			srv := newHTTPTarget(t, servers.Answer(tc.status, ""))
			res, err := newExecutor().Execute(context.Background(), actions.Request{
				Kind: actions.KindCallWebhook, Origin: origin(),
				HTTP: &actions.HTTPCall{Method: http.MethodGet, URL: srv.URL, SuccessCodes: tc.codes},
			})
			if !tc.wantErr {
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(res.Output).To(HaveKeyWithValue("status", tc.status))
				return
			}
			var ae *actions.Error
			g.Expect(err).To(BeAssignableToTypeOf(ae))
			g.Expect(actions.IsRetryable(err)).To(Equal(tc.retryable))
			g.Expect(errors.As(err, &ae)).To(BeTrue())
			g.Expect(ae.StatusCode).To(Equal(tc.status))
		})
	}
}

func TestSendSMS(t *testing.T) {
	t.Run("JSON format: bearer token and {from,to,body}", func(t *testing.T) {
		g := NewWithT(t)
		srv := newHTTPTarget(t, servers.Answer(http.StatusOK, `{"messageId":"m-1"}`, "Content-Type", "application/json"))
		res, err := newExecutor().Execute(context.Background(), actions.Request{
			Kind: actions.KindSendSMS, Origin: origin(),
			SMS: &actions.SMS{
				URL: srv.URL + "/v1/messages", Format: "JSON", Token: "sms-token",
				From: "+15550001111", To: "+15552223333", Body: "Hi Ann, thanks for signing up!",
			},
		})
		g.Expect(err).NotTo(HaveOccurred())
		reqs := srv.Requests()
		g.Expect(reqs).To(HaveLen(1))
		got := reqs[0]
		g.Expect(got.Method).To(Equal(http.MethodPost))
		g.Expect(got.Path).To(Equal("/v1/messages"))
		g.Expect(got.Header.Get("Authorization")).To(Equal("Bearer sms-token"))
		g.Expect(got.Header.Get("Content-Type")).To(Equal("application/json"))
		g.Expect(got.Header.Get("Idempotency-Key")).To(Equal("0b7e7f1c-uid/welcome"))
		g.Expect(decodeJSON(g, got.Body)).To(Equal(map[string]any{
			"from": "+15550001111", "to": "+15552223333", "body": "Hi Ann, thanks for signing up!",
		}))
		g.Expect(res.Output).To(HaveKeyWithValue("body", map[string]any{"messageId": "m-1"}))
		g.Expect(res.Message).To(ContainSubstring("+15552223333"))
	})

	t.Run("Twilio format: basic auth and form-encoded From, To, Body", func(t *testing.T) {
		g := NewWithT(t)
		srv := newHTTPTarget(t, servers.Answer(http.StatusCreated, `{"sid":"SM123","status":"queued"}`, "Content-Type", "application/json"))
		_, err := newExecutor().Execute(context.Background(), actions.Request{
			Kind: actions.KindSendSMS, Origin: origin(),
			SMS: &actions.SMS{
				URL: srv.URL + "/2010-04-01/Accounts/AC123/Messages.json", Format: "Twilio",
				Username: "AC123", Password: "auth-token",
				From: "+15550001111", To: "+15552223333", Body: "Hi & welcome = 100%",
			},
		})
		g.Expect(err).NotTo(HaveOccurred())
		reqs := srv.Requests()
		g.Expect(reqs).To(HaveLen(1))
		got := reqs[0]
		g.Expect(got.Path).To(Equal("/2010-04-01/Accounts/AC123/Messages.json"))
		g.Expect(got.Header.Get("Content-Type")).To(Equal("application/x-www-form-urlencoded"))
		g.Expect(got.Header.Get("Authorization")).To(Equal("Basic " + base64.StdEncoding.EncodeToString([]byte("AC123:auth-token"))))
		g.Expect(got.Header.Get("Idempotency-Key")).To(Equal("0b7e7f1c-uid/welcome"))
		form, err := url.ParseQuery(string(got.Body))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(form).To(Equal(url.Values{
			"From": {"+15550001111"}, "To": {"+15552223333"}, "Body": {"Hi & welcome = 100%"},
		}))
	})
}

func TestNotify(t *testing.T) {
	g := NewWithT(t)
	srv := newHTTPTarget(t, servers.Answer(http.StatusOK, "ok", "Content-Type", "text/plain"))
	res, err := newExecutor().Execute(context.Background(), actions.Request{
		Kind: actions.KindNotify, Origin: origin(),
		Notify: &actions.Notification{
			WebhookURL: srv.URL + "/services/T000/B000/XXXXSECRET",
			Channel:    "vip-support",
			Text:       "VIP Ann started a conversation",
		},
	})
	g.Expect(err).NotTo(HaveOccurred())
	reqs := srv.Requests()
	g.Expect(reqs).To(HaveLen(1))
	got := reqs[0]
	g.Expect(got.Method).To(Equal(http.MethodPost))
	g.Expect(got.Path).To(Equal("/services/T000/B000/XXXXSECRET"))
	g.Expect(got.Header.Get("Content-Type")).To(Equal("application/json"))
	g.Expect(got.Header.Get("Idempotency-Key")).To(Equal("0b7e7f1c-uid/welcome"))
	g.Expect(decodeJSON(g, got.Body)).To(Equal(map[string]any{"text": "VIP Ann started a conversation", "channel": "vip-support"}))
	g.Expect(res.Output).To(HaveKeyWithValue("body", "ok"))
	g.Expect(res.Message).To(ContainSubstring("vip-support"))
	g.Expect(res.Message).NotTo(ContainSubstring("SECRET"))
}

func TestKindInferredFromPayload(t *testing.T) {
	g := NewWithT(t)
	srv := newHTTPTarget(t, nil)
	sink := newCESink(t, nil)
	exec := newExecutor()
	_, err := exec.Execute(context.Background(), actions.Request{Origin: origin(), HTTP: &actions.HTTPCall{URL: srv.URL}})
	g.Expect(err).NotTo(HaveOccurred())
	_, err = exec.Execute(context.Background(), actions.Request{Origin: origin(), Command: &actions.Command{SinkURL: sink.URL, Type: actions.CommandTicketAssign, Subject: "T-1"}})
	g.Expect(err).NotTo(HaveOccurred())
	events, _ := sink.received()
	g.Expect(events).To(HaveLen(1))
	g.Expect(events[0].Type()).To(Equal(actions.CommandTicketAssign))
	g.Expect(srv.Requests()).To(HaveLen(1))
}
