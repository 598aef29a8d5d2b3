package runner

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/runner/actions"
	"github.com/crmflow/crmflow/test/fixture"
)

// bigIDEvent carries CRM ids above 2^53: as float64s they would be
// 9007199254740992 and 123456789012345680, other contacts.
func bigIDEvent() *v1alpha1.CloudEvent {
	return fixture.Event("lead.created",
		json.RawMessage(`{"contact":{"id":9007199254740993,"hs":123456789012345678,"score":7},"lead":{"id":"l-1"}}`),
		fixture.SetEventTime(t0))
}

// TestLargeIDsReachTheServersExactly follows ids above 2^53 from the event
// to what real servers receive: in a URL, a header, a JSON body (as values
// and inside strings) and a CRM command; and an id a server answers with to
// the request of a later step.
func TestLargeIDsReachTheServersExactly(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t)
	w.http.Respond(func(_ int, rw http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/contacts/") {
			rw.Header().Set("Content-Type", "application/json")
			_, _ = rw.Write([]byte(`{"id":9007199254740995,"owner":{"id":123456789012345679}}`))
		}
	})
	clk := clocktesting.NewFakeClock(t0)
	exec := actions.NewExecutor(actions.Config{Clock: clk, Egress: &actions.EgressPolicy{Allow: []string{"127.0.0.1"}}})
	e := New(Options{Executor: exec, CRMSinkURL: w.http.URL + "/sink", Clock: clk, Random: func() float64 { return 0.5 }})
	spec := eventSpec(
		v1alpha1.Step{Name: "create", If: "contact.id == 9007199254740993 && contact.score + 1.0 == 8.0", CallWebhook: &v1alpha1.WebhookAction{
			URL:     v1alpha1.Template(w.http.URL + "/contacts/{{ contact.id }}?hs={{ contact.hs }}"),
			Headers: []v1alpha1.HTTPHeader{{Name: "X-Contact", Value: "{{ contact.id }}"}},
			Body:    `{"id": {{ contact.id }}, "hs": {{ contact.hs }}, "text": "contact {{ contact.id }} / {{ contact.hs }}", "score": {{ contact.score + 1.0 }}}`,
		}},
		v1alpha1.Step{Name: "follow", If: `steps["create"].output.body.id > 9007199254740994`, CallWebhook: &v1alpha1.WebhookAction{
			URL:  v1alpha1.Template(w.http.URL + `/records/{{ steps["create"].output.body.id }}`),
			Body: `{"record": {{ steps["create"].output.body.id }}, "owner": "{{ steps["create"].output.body.owner.id }}"}`,
		}},
		v1alpha1.Step{Name: "stamp", UpdateContact: &v1alpha1.UpdateContactAction{
			ContactID: "{{ contact.id }}",
			Fields:    map[string]v1alpha1.Template{"hubspotId": "{{ contact.hs }}", "owner": `{{ steps["create"].output.body.owner.id }}`},
		}},
	)
	spec.Connections.CRM = nil // the engine's sink, on the test server
	run := newRun(spec, withEvent(bigIDEvent()))
	for i := 0; i < 5 && !run.Status.Phase.IsFinished(); i++ {
		out, err := e.Advance(context.Background(), Input{Run: run, Now: clk.Now()})
		g.Expect(err).NotTo(HaveOccurred())
		run.Status = out.Status
	}
	g.Expect(run.Status.Phase).To(Equal(v1alpha1.RunSucceeded), run.Status.Message)

	got := w.http.Requests()
	g.Expect(got).To(HaveLen(3))
	create, follow, stamp := got[0], got[1], got[2]
	g.Expect(create.Path).To(Equal("/contacts/9007199254740993"))
	g.Expect(create.Query).To(Equal("hs=123456789012345678"))
	g.Expect(create.Header.Get("X-Contact")).To(Equal("9007199254740993"))
	g.Expect(string(create.Body)).To(Equal(
		`{"id": 9007199254740993, "hs": 123456789012345678, "text": "contact 9007199254740993 / 123456789012345678", "score": 8}`))

	g.Expect(string(stepStatus(&run.Status, "create").Output.Raw)).To(ContainSubstring(`"body":{"id":9007199254740995,"owner":{"id":123456789012345679}}`))
	g.Expect(follow.Path).To(Equal("/records/9007199254740995"))
	g.Expect(string(follow.Body)).To(Equal(`{"record": 9007199254740995, "owner": "123456789012345679"}`))

	g.Expect(stamp.Path).To(Equal("/sink"))
	g.Expect(stamp.Header.Get("Ce-Type")).To(Equal(actions.CommandContactUpdate))
	g.Expect(string(stamp.Body)).To(Equal(
		`{"contactId":"9007199254740993","fields":{"hubspotId":123456789012345678,"owner":123456789012345679}}`))
}

// TestDryRunShowsLargeIDsExactly: the rendered request a dry run records
// (what `kubectl crmflow test` and the console's Test show) keeps the ids.
func TestDryRunShowsLargeIDsExactly(t *testing.T) {
	g := NewWithT(t)
	spec := eventSpec(v1alpha1.Step{Name: "hook", CallWebhook: &v1alpha1.WebhookAction{
		URL:  "https://crm.example.com/contacts/{{ contact.id }}",
		Body: `{"hs": {{ contact.hs }}}`,
	}})
	status, err := New(Options{}).Simulate(context.Background(), spec, bigIDEvent(), nil, t0)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(status.Steps).To(HaveLen(1))
	out := string(status.Steps[0].Output.Raw)
	g.Expect(out).To(ContainSubstring(`"url":"https://crm.example.com/contacts/9007199254740993"`))
	g.Expect(out).To(ContainSubstring(`"body":"{\"hs\": 123456789012345678}"`))
}

// TestAWaitKeepsTheLargeIDsOfTheEventItReceived: a later step reads the
// arriving event's data through steps["await"].event.data, stored in the
// wait's output.
func TestAWaitKeepsTheLargeIDsOfTheEventItReceived(t *testing.T) {
	g := NewWithT(t)
	h := newHarness(t, newRun(eventSpec(
		eventStep("await", "message.received", "1h", "message.id > 9007199254740996"),
		v1alpha1.Step{Name: "hook", CallWebhook: &v1alpha1.WebhookAction{
			URL: `http://127.0.0.1/messages/{{ steps["await"].event.data.message.id }}`}},
	), withEvent(bigIDEvent())))
	h.advance()
	h.deliver(fixture.Event("message.received", json.RawMessage(`{"message":{"id":9007199254740997}}`), fixture.SetEventID("m-1")))
	h.advance()
	g.Expect(h.run.Status.Phase).To(Equal(v1alpha1.RunSucceeded), h.run.Status.Message)
	g.Expect(string(h.step("await").Output.Raw)).To(ContainSubstring(`"data":{"message":{"id":9007199254740997}}`))
	g.Expect(h.rec.reqs).To(HaveLen(1))
	g.Expect(h.rec.reqs[0].HTTP.URL).To(Equal("http://127.0.0.1/messages/9007199254740997"))
}
