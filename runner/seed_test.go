package runner

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/runner/actions"
	"github.com/crmflow/crmflow/test/fixture"
	"github.com/crmflow/crmflow/test/servers"
)

// seedRun runs a sample workflow through the engine alone, with the real
// executor of runner/actions against the servers of w and a fake clock.
type seedRun struct {
	t   *testing.T
	w   *world
	e   *Engine
	clk *clocktesting.FakeClock
	run *v1alpha1.WorkflowRun
	sec *secretMap
}

func newSeedRun(t *testing.T, name string, ev *v1alpha1.CloudEvent) *seedRun {
	t.Helper()
	w := newWorld(t)
	clk := clocktesting.NewFakeClock(t0)
	wf := fixture.MustSample(t, name)
	if c := wf.Spec.Connections; c != nil && c.SMTP != nil {
		c.SMTP.Host, c.SMTP.Port = w.smtp.Host, int32(w.smtp.Port)
	}
	exec := actions.NewExecutor(actions.Config{Clock: clk, TLSConfig: w.smtp.ClientTLS(), Egress: &actions.EgressPolicy{Allow: []string{"127.0.0.1"}}})
	e := New(Options{Executor: exec, CRMSinkURL: w.http.URL + "/sink", Clock: clk, Random: func() float64 { return 0.5 }})
	p, err := e.Compile(&wf.Spec)
	if err != nil {
		t.Fatalf("compile %s: %v", name, err)
	}
	subject, err := p.Subject(ev, t0)
	if err != nil {
		t.Fatalf("subject: %v", err)
	}
	run := &v1alpha1.WorkflowRun{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-1", Namespace: "sales", UID: types.UID("uid-" + name), CreationTimestamp: metav1.NewTime(t0)},
		Spec:       v1alpha1.WorkflowRunSpec{WorkflowName: name, Workflow: wf.Spec.DeepCopy(), Subject: subject, Event: ev},
	}
	sec := &secretMap{data: map[string]map[string]string{
		"crmflow-notify": {"vip-support-url": w.http.URL + "/hooks/vip", "support-url": w.http.URL + "/hooks/support"},
		"crmflow-smtp":   {"username": "mailer", "password": "pw"},
	}}
	return &seedRun{t: t, w: w, e: e, clk: clk, run: run, sec: sec}
}

func (s *seedRun) advance() Outcome {
	s.t.Helper()
	out, err := s.e.Advance(context.Background(), Input{Run: s.run, Secrets: s.sec, Now: s.clk.Now()})
	if err != nil {
		s.t.Fatalf("advance: %v", err)
	}
	s.run.Status = out.Status
	return out
}

// wake moves the fake clock to the run's wakeAt and advances.
func (s *seedRun) wake() Outcome {
	s.t.Helper()
	if s.run.Status.WakeAt == nil {
		s.t.Fatalf("run does not wait for a time; status %+v", s.run.Status)
	}
	s.clk.SetTime(s.run.Status.WakeAt.Time)
	return s.advance()
}

// commandData decodes a CloudEvents command received in binary mode.
func commandData(t *testing.T, d delivery) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(d.Body, &m); err != nil {
		t.Fatalf("command body %q: %v", d.Body, err)
	}
	return m
}

func TestSeedVIPRouting(t *testing.T) {
	g := NewWithT(t)
	ev := fixture.Event("conversation.started", obj{
		"conversation": obj{"id": "conv-1", "contactId": "c-42", "channel": "chat"},
		"contact":      obj{"id": "c-42", "firstName": "Ann", "lastName": "Lee", "tags": []string{"VIP"}},
	}, fixture.SetEventTime(t0))
	s := newSeedRun(t, "vip-routing", ev)
	out := s.advance()
	g.Expect(out.Status.Phase).To(Equal(v1alpha1.RunSucceeded), out.Status.Message)

	got := s.w.deliveries()
	g.Expect(got).To(HaveLen(3))
	notify, tags, stamp := got[0], got[1], got[2]

	g.Expect(notify.Path).To(Equal("/hooks/vip"))
	g.Expect(notify.header("Idempotency-Key")).To(Equal("uid-vip-routing/notify-vip-team"))
	g.Expect(commandData(t, notify)).To(Equal(map[string]any{"channel": "vip-support", "text": "VIP Ann Lee started a conversation on chat."}))

	g.Expect(tags.Path).To(Equal("/sink"))
	g.Expect(tags.header("Ce-Type")).To(Equal(actions.CommandContactTagsAdd))
	g.Expect(tags.header("Ce-Id")).To(Equal("uid-vip-routing/tag-conversation"))
	g.Expect(tags.header("Ce-Subject")).To(Equal("c-42"))
	g.Expect(tags.header("Ce-Crmflowhops")).To(Equal("1"))
	g.Expect(tags.header("Ce-Crmflowchain")).To(Equal("sales/vip-routing/c-42"))
	g.Expect(commandData(t, tags)).To(Equal(map[string]any{"contactId": "c-42", "tags": []any{"VIP_Conversation"}}))

	g.Expect(stamp.header("Ce-Type")).To(Equal(actions.CommandContactUpdate))
	g.Expect(commandData(t, stamp)).To(Equal(map[string]any{"contactId": "c-42", "fields": map[string]any{"last_vip_contact": "2026-03-02T10:00:00Z"}}))
}

func TestSeedNegativeSentiment(t *testing.T) {
	g := NewWithT(t)
	ev := fixture.Event("message.received", obj{
		"message": obj{"id": "m-9", "contactId": "c-42", "text": "This is awful", "sentiment": obj{"score": 0.12}},
		"contact": obj{"id": "c-42", "firstName": "Ann", "lastName": "Lee"},
	}, fixture.SetEventTime(t0))
	s := newSeedRun(t, "negative-sentiment", ev)
	s.advance()
	g.Expect(s.run.Status.Phase).To(Equal(v1alpha1.RunSucceeded), s.run.Status.Message)

	got := s.w.deliveries()
	g.Expect(got).To(HaveLen(3))
	g.Expect(got[0].header("Ce-Type")).To(Equal(actions.CommandTicketCreate))
	g.Expect(commandData(t, got[0])).To(Equal(map[string]any{"contactId": "c-42", "title": "Unhappy customer: Ann Lee",
		"description": `Message m-9 scored 0.12: "This is awful"`, "priority": "High", "team": "support"}))
	g.Expect(got[1].Path).To(Equal("/hooks/support"))
	g.Expect(commandData(t, got[1])).To(Equal(map[string]any{"channel": "support", "text": "Negative message from Ann (score 0.12). Ticket opened."}))
	g.Expect(got[2].header("Ce-Type")).To(Equal(actions.CommandContactTagsAdd))
	g.Expect(commandData(t, got[2])).To(Equal(map[string]any{"contactId": "c-42", "tags": []any{"Needs_Attention"}}))
}

func leadEvent() *v1alpha1.CloudEvent {
	return fixture.Event("lead.created", obj{
		"lead":    obj{"id": "l-1", "contactId": "c-42", "source": "Website"},
		"contact": obj{"id": "c-42", "email": "ann@example.com", "firstName": "Ann"},
	}, fixture.SetEventTime(t0))
}

func TestSeedLeadFollowUpReplyArrives(t *testing.T) {
	g := NewWithT(t)
	s := newSeedRun(t, "lead-follow-up", leadEvent())
	out := s.advance()
	g.Expect(*out.WakeAt).To(Equal(t0.Add(time.Hour)))
	g.Expect(s.w.deliveries()).To(BeEmpty())

	out = s.wake() // settle done: welcome email, then wait for a reply
	g.Expect(out.Status.CurrentStep).To(Equal("await-reply"))
	g.Expect(*out.WakeAt).To(Equal(t0.Add(time.Hour + 48*time.Hour)))
	mails := s.w.deliveries()
	g.Expect(mails).To(HaveLen(1))
	g.Expect(mails[0].Via).To(Equal("smtp"))
	g.Expect(mails[0].TLS).To(BeTrue())
	g.Expect(mails[0].User).To(Equal("mailer"))
	g.Expect(mails[0].To).To(Equal([]string{"ann@example.com"}))
	g.Expect(mails[0].contains("Subject: Welcome, Ann")).To(BeTrue(), string(mails[0].Body))
	g.Expect(mails[0].contains(actions.MessageID("uid-lead-follow-up/welcome"))).To(BeTrue(), string(mails[0].Body))

	reply := fixture.Event("message.received", obj{"message": obj{"text": "yes please"}}, fixture.SetEventID("m-1"))
	g.Expect(Interested(s.run, s.run.Spec.Workflow, reply)).To(BeTrue())
	s.clk.Step(3 * time.Hour)
	s.run.Spec.Inbox = append(s.run.Spec.Inbox, *reply)
	out = s.advance()
	g.Expect(out.Status.Phase).To(Equal(v1alpha1.RunSucceeded))
	phases := map[string]v1alpha1.StepPhase{}
	for _, st := range out.Status.Steps {
		phases[st.Name] = st.Phase
	}
	g.Expect(phases).To(Equal(map[string]v1alpha1.StepPhase{"settle": "Succeeded", "welcome": "Succeeded", "await-reply": "Succeeded",
		"follow-up": "Skipped", "await-second-reply": "Skipped", "hand-to-sales": "Skipped"}))
	g.Expect(s.w.deliveries()).To(HaveLen(1))
}

func TestSeedLeadFollowUpNoReply(t *testing.T) {
	g := NewWithT(t)
	s := newSeedRun(t, "lead-follow-up", leadEvent())
	s.advance()
	s.wake()        // +1h: welcome
	out := s.wake() // +2d: no reply, follow-up, wait 5d
	g.Expect(out.Status.CurrentStep).To(Equal("await-second-reply"))
	g.Expect(*out.WakeAt).To(Equal(t0.Add(time.Hour + 48*time.Hour + 120*time.Hour)))
	out = s.wake() // +5d: hand to sales
	g.Expect(out.Status.Phase).To(Equal(v1alpha1.RunSucceeded), out.Status.Message)

	got := s.w.deliveries()
	g.Expect(got).To(HaveLen(3))
	g.Expect(got[0].contains("Subject: Welcome, Ann")).To(BeTrue())
	g.Expect(got[1].Via).To(Equal("smtp"))
	g.Expect(got[1].contains("Subject: Still interested, Ann?")).To(BeTrue(), string(got[1].Body))
	g.Expect(got[2].Via).To(Equal("http"))
	g.Expect(got[2].header("Ce-Type")).To(Equal(actions.CommandContactAssign))
	g.Expect(got[2].header("Ce-Id")).To(Equal("uid-lead-follow-up/hand-to-sales"))
	g.Expect(commandData(t, got[2])).To(Equal(map[string]any{"contactId": "c-42", "user": "sales-rep-pool"}))
}

// TestRealTargetFailsTwice: a webhook answering 503 twice, then 200, gets
// three attempts with one Idempotency-Key; the backoff is read from status
// and moved through the fake clock.
func TestRealTargetFailsTwice(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t)
	w.http.FailNext("", 2, http.StatusServiceUnavailable, "")
	w.http.Respond(servers.Answer(http.StatusOK, `{"ok":true}`))
	clk := clocktesting.NewFakeClock(t0)
	e := New(Options{Executor: actions.NewExecutor(actions.Config{Clock: clk, Egress: &actions.EgressPolicy{Allow: []string{"127.0.0.1"}}}), Clock: clk, Random: func() float64 { return 0.5 }})
	spec := eventSpec(v1alpha1.Step{Name: "hook", CallWebhook: &v1alpha1.WebhookAction{URL: v1alpha1.Template(w.http.URL + "/hook"), Body: `{"lead": "{{ lead.id }}"}`}})
	run := newRun(spec)
	var wakes []time.Time
	for i := 0; i < 3; i++ {
		out, err := e.Advance(context.Background(), Input{Run: run, Now: clk.Now()})
		g.Expect(err).NotTo(HaveOccurred())
		run.Status = out.Status
		if out.WakeAt != nil {
			wakes = append(wakes, *out.WakeAt)
			clk.SetTime(*out.WakeAt)
		}
	}
	g.Expect(run.Status.Phase).To(Equal(v1alpha1.RunSucceeded), run.Status.Message)
	g.Expect(wakes).To(Equal([]time.Time{t0.Add(time.Second), t0.Add(3 * time.Second)}))
	got := w.deliveries()
	g.Expect(got).To(HaveLen(3))
	for _, d := range got {
		g.Expect(d.header("Idempotency-Key")).To(Equal("uid-1/hook"))
		g.Expect(string(d.Body)).To(Equal(`{"lead": "l-1"}`))
	}
	st := stepStatus(&run.Status, "hook")
	g.Expect(st.Attempts).To(BeEquivalentTo(3))
	g.Expect(string(st.Output.Raw)).To(ContainSubstring(`"status":200`))
	g.Expect(strings.Count(st.Message, "200")).To(BeNumerically(">=", 1))
}

// The renewal sample's templates fall back where CRMs often send nothing: an
// event without contact.lastName (or accountManager) still succeeds.
func TestSeedRenewalWithoutLastName(t *testing.T) {
	g := NewWithT(t)
	ev := fixture.Event("contact.updated", obj{
		"contact": obj{"id": "c-7", "email": "bo@example.com", "firstName": "Bo", "renewalDate": "2026-03-20"},
	}, fixture.SetEventSubject("c-7"))
	s := newSeedRun(t, "renewal-reminder", ev)
	out := s.advance()
	for i := 0; i < 3 && out.Status.Phase == v1alpha1.RunWaiting; i++ {
		out = s.wake()
	}
	g.Expect(out.Status.Phase).To(Equal(v1alpha1.RunSucceeded), out.Status.Message)
	var task map[string]any
	for _, d := range s.w.deliveries() {
		if d.Via == "http" && d.header("Ce-Type") == actions.CommandTaskCreate {
			task = commandData(t, d)
		}
	}
	g.Expect(task).To(HaveKeyWithValue("title", "Renewal call with Bo"))
	g.Expect(task).To(HaveKeyWithValue("assignee", "accounts-team"))
}
