package runner

import (
	"context"
	"errors"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/test/fixture"
)

func stepMessages(st v1alpha1.WorkflowRunStatus) map[string]string {
	out := map[string]string{}
	for i := range st.Steps {
		s := &st.Steps[i]
		out[s.Name] = string(s.Phase) + ": " + s.Message
	}
	return out
}

func TestDryRunLeadFollowUp(t *testing.T) {
	cases := []struct {
		name      string
		simulated []v1alpha1.CloudEvent
		want      map[string]string
	}{
		{"no simulated reply: both waits time out", nil, map[string]string{
			"settle":             "Succeeded: would wait 1h",
			"welcome":            `Succeeded: would send email to ann@example.com: "Welcome, Ann"`,
			"await-reply":        "Succeeded: would wait for message.received up to 2d: timed out (no simulated event)",
			"follow-up":          `Succeeded: would send email to ann@example.com: "Still interested, Ann?"`,
			"await-second-reply": "Succeeded: would wait for message.received up to 5d: timed out (no simulated event)",
			"hand-to-sales":      "Succeeded: would send io.crmflow.contact.assign for c-42 to http://127.0.0.1/sink",
		}},
		{"a simulated reply resolves the first wait", []v1alpha1.CloudEvent{
			*fixture.Event("ticket.created", obj{}, fixture.SetEventID("t-1")),
			*fixture.Event("message.received", obj{"message": obj{"text": "hi"}}, fixture.SetEventID("m-1")),
		}, map[string]string{
			"settle":             "Succeeded: would wait 1h",
			"welcome":            `Succeeded: would send email to ann@example.com: "Welcome, Ann"`,
			"await-reply":        "Succeeded: would wait for message.received: simulated event m-1 arrived",
			"follow-up":          "Skipped: if is false: skipped",
			"await-second-reply": "Skipped: if is false: skipped",
			"hand-to-sales":      "Skipped: if is false: skipped",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			spec := fixture.MustSample(t, "lead-follow-up").Spec
			spec.Connections.CRM = &v1alpha1.CRMConnection{SinkURL: "http://127.0.0.1/sink"}
			h := newHarness(t, newRun(&spec, dryRun, withEvent(leadEvent()), func(r *v1alpha1.WorkflowRun) { r.Spec.SimulatedEvents = tc.simulated }))
			out := h.advance()
			g.Expect(out.Status.Phase).To(Equal(v1alpha1.RunSucceeded), out.Status.Message)
			g.Expect(stepMessages(out.Status)).To(Equal(tc.want))
			g.Expect(h.rec.reqs).To(BeEmpty(), "a dry run sends nothing")
			g.Expect(h.secrets.reads).To(BeZero(), "a dry run reads no Secret")
			welcome := decodeOutput(h.step("welcome").Output)
			g.Expect(welcome["email"]).To(HaveKeyWithValue("username", "<secret crmflow-smtp/username>"))
			g.Expect(welcome["email"]).To(HaveKeyWithValue("body", "Hi Ann,\n\nthanks for your interest. Reply to this email and a person will answer.\n"))
			g.Expect(welcome["email"]).NotTo(HaveKey("password"))
			g.Expect(welcome).To(HaveKeyWithValue("idempotencyKey", "uid-1/welcome"))
		})
	}
}

func TestDryRunRecordsRenderFailures(t *testing.T) {
	g := NewWithT(t)
	h := newHarness(t, newRun(eventSpec(v1alpha1.Step{Name: "s", SendSMS: &v1alpha1.SendSMSAction{To: "{{ contact.phone }}", Body: "x"}}), dryRun))
	out := h.advance()
	g.Expect(out.Status.Phase).To(Equal(v1alpha1.RunFailed))
	g.Expect(h.step("s").Message).To(Equal(`would fail: render sendSMS.to: evaluate " contact.phone ": no such key: phone`))
}

func TestSimulate(t *testing.T) {
	g := NewWithT(t)
	e := New(Options{CRMSinkURL: "http://crm.example/sink"})
	wf := fixture.MustSample(t, "vip-routing")
	ev := fixture.Event("conversation.started", obj{
		"conversation": obj{"contactId": "c-7", "channel": "phone"},
		"contact":      obj{"firstName": "Bo", "lastName": "Ek", "tags": []string{"VIP"}},
	}, fixture.SetEventTime(t0))
	st, err := e.Simulate(context.Background(), &wf.Spec, ev, nil, t0)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(st.Phase).To(Equal(v1alpha1.RunSucceeded))
	g.Expect(stepMessages(st)).To(Equal(map[string]string{
		"notify-vip-team":    `Succeeded: would notify vip-support: "VIP Bo Ek started a conversation on phone."`,
		"tag-conversation":   "Succeeded: would send io.crmflow.contact.tags.add for c-7 to http://crm.example/sink",
		"stamp-last-contact": "Succeeded: would send io.crmflow.contact.update for c-7 to http://crm.example/sink",
	}))
	notify := decodeOutput(stepStatus(&st, "notify-vip-team").Output)
	g.Expect(notify["notify"]).To(HaveKeyWithValue("webhookURL", "<secret crmflow-notify/vip-support-url>"))

	// Conditions that do not hold are reported, nothing runs.
	ev = fixture.Event("conversation.started", obj{"conversation": obj{"contactId": "c-7"}, "contact": obj{"tags": []string{}}})
	st, err = e.Simulate(context.Background(), &wf.Spec, ev, nil, t0)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(st.Result).To(Equal(v1alpha1.ReasonConditionsNotMet))
	g.Expect(st.Steps).To(BeEmpty())

	// An invalid spec is a CompileError.
	bad := wf.Spec.DeepCopy()
	bad.Steps[0].If = "1 +"
	_, err = e.Simulate(context.Background(), bad, ev, nil, t0)
	var ce *CompileError
	g.Expect(errors.As(err, &ce)).To(BeTrue())
}

func TestOutputIsCapped(t *testing.T) {
	g := NewWithT(t)
	h := newHarness(t, newRun(eventSpec(tagStep("big"))))
	long := make([]byte, 10000)
	for i := range long {
		long[i] = 'x'
	}
	h.e.opts.MaxOutputBytes = 4096
	h.rec.fail = nil
	exec := &bigOutput{body: string(long)}
	h.e.opts.Executor = exec
	h.advance()
	raw := h.step("big").Output.Raw
	g.Expect(len(raw)).To(BeNumerically("<=", 4096))
	g.Expect(decodeOutput(h.step("big").Output)["status"]).To(BeEquivalentTo(200))
}
