package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/crmflow/crmflow/controllers/intake/request"
	"github.com/crmflow/crmflow/runner/cloudevents"
)

// recordedRequest is what the test receiver saw.
type recordedRequest struct {
	path   string
	header http.Header
	body   []byte
}

// receiver is a real HTTP server on 127.0.0.1 that answers like crmflow's
// intake: it checks the namespace's credential and answers 202 with JSON.
func receiver(t *testing.T, creds request.Credentials) (*httptest.Server, func() recordedRequest) {
	var mu sync.Mutex
	var last recordedRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		last = recordedRequest{path: r.URL.Path, header: r.Header.Clone(), body: body}
		mu.Unlock()
		if err := creds.Verify(r.Header, body); err != nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"error":"credential rejected"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"enrolled":["vip-routing"]}`)
	}))
	t.Cleanup(srv.Close)
	return srv, func() recordedRequest { mu.Lock(); defer mu.Unlock(); return last }
}

func TestSendFromFlags(t *testing.T) {
	g := NewWithT(t)
	srv, last := receiver(t, request.Credentials{Token: []byte("s3cret")})
	out, errOut, code := runPlugin(t, "send", "-n", "sales", "--url", srv.URL, "--token", "s3cret",
		"--type", "conversation.started", "--source", "crm.example.com", "--subject", "c-42", "--id", "evt-1",
		"--data", `{"contact":{"tags":["VIP"]}}`)
	g.Expect(code).To(Equal(0), errOut)
	g.Expect(out).To(ContainSubstring("202 Accepted"))
	g.Expect(out).To(ContainSubstring(`"enrolled"`))

	req := last()
	g.Expect(req.path).To(Equal("/v1/namespaces/sales/events"))
	g.Expect(req.header.Get("ce-specversion")).To(Equal("1.0"))
	g.Expect(req.header.Get("ce-id")).To(Equal("evt-1"))
	g.Expect(req.header.Get("ce-type")).To(Equal("conversation.started"))
	g.Expect(req.header.Get("ce-source")).To(Equal("crm.example.com"))
	g.Expect(req.header.Get("ce-subject")).To(Equal("c-42"))
	g.Expect(req.header.Get("ce-time")).To(Equal("2026-03-02T12:00:00Z"), "the injected clock's now")
	g.Expect(req.header.Get("Content-Type")).To(Equal("application/json"))
	g.Expect(string(req.body)).To(Equal(`{"contact":{"tags":["VIP"]}}`))
}

func TestSendFromFileSigned(t *testing.T) {
	g := NewWithT(t)
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC) // runPlugin's clock
	creds := request.Credentials{HMACKey: []byte("k3y"), Clock: clocktesting.NewFakePassiveClock(now.Add(time.Minute))}
	srv, last := receiver(t, creds)
	_, errOut, code := runPlugin(t, "send", "-n", "support", "--url", srv.URL, "--hmac-key", "k3y",
		"-f", filepath.Join("testdata", "events", "message-received-negative.json"), "--subject", "c-override")
	g.Expect(code).To(Equal(0), errOut)
	req := last()
	g.Expect(req.header.Get("ce-type")).To(Equal("message.received"))
	g.Expect(req.header.Get("ce-id")).To(Equal("evt-msg-1"))
	g.Expect(req.header.Get("ce-subject")).To(Equal("c-override"), "flags override the file")
	g.Expect(req.header.Get("ce-time")).To(Equal("2026-03-02T10:00:00Z"))
	g.Expect(string(req.body)).To(ContainSubstring(`"sentiment"`))
	g.Expect(req.header.Get(cloudevents.TimestampHeader)).To(Equal("1772452800"), "signed at the plugin's now")
	g.Expect(req.header.Get(cloudevents.SignatureHeader)).To(HavePrefix("v1="))

	// The signature covers the attributes: the same body and signature with
	// another ce-id, ce-subject or hop count is refused, and so is a replay
	// after the tolerance.
	g.Expect(creds.Verify(req.header, req.body)).To(Succeed())
	for _, h := range []string{"ce-id", "ce-subject", "ce-type", "ce-crmflowhops"} {
		tampered := req.header.Clone()
		tampered.Set(h, "other")
		g.Expect(creds.Verify(tampered, req.body)).To(MatchError(ContainSubstring("does not match the request")), h)
	}
	late := creds
	late.Clock = clocktesting.NewFakePassiveClock(now.Add(6 * time.Minute))
	g.Expect(late.Verify(req.header, req.body)).To(MatchError(ContainSubstring("6m0s away from the receiver's clock")))
}

func TestSendRefused(t *testing.T) {
	g := NewWithT(t)
	srv, _ := receiver(t, request.Credentials{Token: []byte("s3cret")})
	out, errOut, code := runPlugin(t, "send", "-n", "sales", "--url", srv.URL, "--token", "wrong", "--type", "lead.created")
	g.Expect(code).To(Equal(1))
	g.Expect(out).To(ContainSubstring("403 Forbidden"))
	g.Expect(errOut).To(ContainSubstring("the receiver refused the event"))

	_, errOut, code = runPlugin(t, "send", "--url", srv.URL, "--type", "lead.created", "--data", "{not json")
	g.Expect(code).To(Equal(2))
	g.Expect(errOut).To(ContainSubstring("not JSON"))
}
