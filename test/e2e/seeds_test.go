//go:build !unit

package e2e

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/runner/actions"
)

// Write bounds per run, for the controllers' writes only (the run's creation
// and a delivered reply are intake's). A run costs one status write per pass
// that changes it: the first pass (admission, enrollment and every instant
// step up to the first wait) and one per wake (a timer or a delivered
// event). Waiting costs nothing. So:
//   - VIP routing and negative sentiment: all steps instant → 1 status write
//     (2 API writes per run with intake's create: the Cost budget);
//   - lead follow-up without reply: first pass (settle waits), 3 wakes
//     (settle, await-reply timeout, await-second-reply timeout) = 4;
//   - lead follow-up with a reply: first pass, settle wake, the reply = 3.
const (
	instantSeedWrites = 1
	leadNoReplyWrites = 4
	leadReplyWrites   = 3
)

// newFakeClock starts a fake clock at a whole second (the API stores
// seconds), a little ahead of the real time.
func newFakeClock() *clocktesting.FakeClock {
	return clocktesting.NewFakeClock(time.Now().Add(time.Minute).Truncate(time.Second))
}

// expectSucceeded asserts the Succeeded condition and the phase of a run.
func expectSucceeded(g Gomega, run *v1alpha1.WorkflowRun, reason v1alpha1.ConditionReason) {
	g.Expect(run.Status.Phase).To(Equal(v1alpha1.RunSucceeded))
	c := meta.FindStatusCondition(run.Status.Conditions, v1alpha1.RunSucceededCondition)
	g.Expect(c).NotTo(BeNil())
	g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
	g.Expect(c.Reason).To(Equal(reason.String()))
	g.Expect(run.Status.CompletionTime).NotTo(BeNil())
}

var _ = Describe("Seed examples end to end", func() {
	var (
		ns     string
		clk    *clocktesting.FakeClock
		writes *writeCounter
	)
	BeforeEach(func() {
		ns = newNamespace()
		clk = newFakeClock()
		writes = newWriteCounter()
		startManager(managerOptions{namespace: ns, clock: clk, poll: fakeClockPoll, writes: writes})
	})

	It("routes a VIP conversation: notifies the VIP team, tags the contact, stamps last_vip_contact", func() {
		wf := createWorkflow(sample("vip-routing", ns))
		run := enroll(wf, cloudEvent("conversation.started", "conv-1", "c-vip", clk.Now(), map[string]any{
			"conversation": map[string]any{"contactId": "c-vip", "channel": "chat"},
			"contact":      map[string]any{"firstName": "Ann", "lastName": "Lee", "tags": []any{"VIP"}},
		}), "c-vip")

		Eventually(func(g Gomega) {
			got := getRun(run)(g)
			expectSucceeded(g, got, v1alpha1.ReasonCompleted)
			g.Expect(stepPhases(got)).To(Equal(map[string]v1alpha1.StepPhase{
				"notify-vip-team": v1alpha1.StepSucceeded, "tag-conversation": v1alpha1.StepSucceeded, "stamp-last-contact": v1alpha1.StepSucceeded,
			}))
			g.Expect(got.Status.ConditionResults).To(ConsistOf(HaveField("Result", true)))
		}).Should(Succeed())

		notes := target.on("/notify/" + ns + "/vip")
		Expect(notes).To(HaveLen(1))
		Expect(string(notes[0].Body)).To(ContainSubstring("VIP Ann Lee started a conversation on chat"))
		Expect(notes[0].IdempotencyKey).To(Equal(string(run.UID) + "/notify-vip-team"))
		tags := commands(actions.CommandContactTagsAdd, "c-vip")
		Expect(tags).To(HaveLen(1))
		Expect(string(tags[0].Body)).To(ContainSubstring("VIP_Conversation"))
		updates := commands(actions.CommandContactUpdate, "c-vip")
		Expect(updates).To(HaveLen(1))
		Expect(string(updates[0].Body)).To(ContainSubstring("last_vip_contact"))

		Consistently(func() int { return writes.of(run.Name) }, "1s", "100ms").Should(BeNumerically("<=", instantSeedWrites))
	})

	It("turns a negative message into a ticket, a notification and a tag", func() {
		wf := createWorkflow(sample("negative-sentiment", ns))
		run := enroll(wf, cloudEvent("message.received", "msg-1", "c-sad", clk.Now(), map[string]any{
			"message": map[string]any{"id": "msg-1", "contactId": "c-sad", "text": "This is awful", "sentiment": map[string]any{"score": 0.1}},
			"contact": map[string]any{"firstName": "Bo", "lastName": "Ng"},
		}), "c-sad")

		Eventually(func(g Gomega) {
			got := getRun(run)(g)
			expectSucceeded(g, got, v1alpha1.ReasonCompleted)
			g.Expect(stepPhases(got)).To(Equal(map[string]v1alpha1.StepPhase{
				"open-ticket": v1alpha1.StepSucceeded, "notify-support": v1alpha1.StepSucceeded, "tag-contact": v1alpha1.StepSucceeded,
			}))
		}).Should(Succeed())

		tickets := target.on("/crm")
		var ticket []hit
		for _, h := range tickets {
			if h.CEType == actions.CommandTicketCreate && h.IdempotencyKey == string(run.UID)+"/open-ticket" {
				ticket = append(ticket, h)
			}
		}
		Expect(ticket).To(HaveLen(1))
		Expect(string(ticket[0].Body)).To(And(ContainSubstring("Unhappy customer: Bo Ng"), ContainSubstring("High")))
		notes := target.on("/notify/" + ns + "/support")
		Expect(notes).To(HaveLen(1))
		Expect(string(notes[0].Body)).To(ContainSubstring("Negative message from Bo"))
		Expect(commands(actions.CommandContactTagsAdd, "c-sad")).To(ConsistOf(HaveField("Body", ContainSubstring("Needs_Attention"))))

		Consistently(func() int { return writes.of(run.Name) }, "1s", "100ms").Should(BeNumerically("<=", instantSeedWrites))
	})

	It("does not enroll a positive message: the run ends with ConditionsNotMet and sends nothing", func() {
		wf := createWorkflow(sample("negative-sentiment", ns))
		run := enroll(wf, cloudEvent("message.received", "msg-2", "c-happy", clk.Now(), map[string]any{
			"message": map[string]any{"id": "msg-2", "contactId": "c-happy", "text": "Great!", "sentiment": map[string]any{"score": 0.9}},
			"contact": map[string]any{"firstName": "Cy"},
		}), "c-happy")
		Eventually(func(g Gomega) {
			got := getRun(run)(g)
			g.Expect(got.Status.Phase).To(Equal(v1alpha1.RunSucceeded))
			g.Expect(got.Status.Result).To(Equal(v1alpha1.ReasonConditionsNotMet))
			g.Expect(got.Status.ConditionResults).To(ConsistOf(HaveField("Result", false)))
		}).Should(Succeed())
		Expect(commands(actions.CommandContactTagsAdd, "c-happy")).To(BeEmpty())
	})

	Describe("lead follow-up", func() {
		var (
			wf      *v1alpha1.Workflow
			run     *v1alpha1.WorkflowRun
			email   string
			contact string
		)
		BeforeEach(func() {
			wf = createWorkflow(sample("lead-follow-up", ns, withLocalSMTP()))
			contact = "c-" + ns
			email = contact + "@example.com"
			run = enroll(wf, cloudEvent("lead.created", "lead-1", contact, clk.Now(), map[string]any{
				"lead":    map[string]any{"source": "Website", "contactId": contact},
				"contact": map[string]any{"firstName": "Dee", "email": email},
			}), contact)

			By("settling for an hour before the welcome email")
			Eventually(func(g Gomega) {
				got := getRun(run)(g)
				g.Expect(got.Status.Phase).To(Equal(v1alpha1.RunWaiting))
				g.Expect(got.Status.CurrentStep).To(Equal("settle"))
				g.Expect(got.Status.WakeAt).NotTo(BeNil())
				g.Expect(got.Status.WakeAt.Time).To(BeTemporally("~", clk.Now().Add(time.Hour), time.Second))
			}).Should(Succeed())
			// Waiting costs no writes, however often the controller looks.
			before := writes.of(run.Name)
			Consistently(func() int { return writes.of(run.Name) }, "1s", "100ms").Should(Equal(before))
			Expect(mailer.to(email)).To(BeEmpty())

			clk.Step(time.Hour)
			Eventually(func(g Gomega) {
				g.Expect(mailer.to(email)).To(ConsistOf(HaveField("Data", ContainSubstring("Welcome, Dee"))))
				got := getRun(run)(g)
				g.Expect(got.Status.CurrentStep).To(Equal("await-reply"))
				g.Expect(got.Status.Phase).To(Equal(v1alpha1.RunWaiting))
			}).Should(Succeed())
		})

		It("follows up with a silent lead after two days and hands it to sales after five more", func() {
			clk.Step(48 * time.Hour)
			Eventually(func(g Gomega) {
				g.Expect(mailer.to(email)).To(HaveLen(2))
				got := getRun(run)(g)
				g.Expect(got.Status.CurrentStep).To(Equal("await-second-reply"))
			}).Should(Succeed())
			Expect(mailer.to(email)[1].Data).To(ContainSubstring("Still interested, Dee?"))
			Expect(commands(actions.CommandContactAssign, contact)).To(BeEmpty())

			clk.Step(120 * time.Hour)
			Eventually(func(g Gomega) {
				got := getRun(run)(g)
				expectSucceeded(g, got, v1alpha1.ReasonCompleted)
				g.Expect(stepPhases(got)).To(Equal(map[string]v1alpha1.StepPhase{
					"settle": v1alpha1.StepSucceeded, "welcome": v1alpha1.StepSucceeded, "await-reply": v1alpha1.StepSucceeded,
					"follow-up": v1alpha1.StepSucceeded, "await-second-reply": v1alpha1.StepSucceeded, "hand-to-sales": v1alpha1.StepSucceeded,
				}))
			}).Should(Succeed())
			assign := commands(actions.CommandContactAssign, contact)
			Expect(assign).To(HaveLen(1))
			Expect(string(assign[0].Body)).To(ContainSubstring("sales-rep-pool"))
			Expect(mailer.to(email)).To(HaveLen(2))

			Consistently(func() int { return writes.of(run.Name) }, "1s", "100ms").Should(BeNumerically("<=", leadNoReplyWrites))
		})

		It("stops following up once the lead replies", func() {
			deliver(run, cloudEvent("message.received", "reply-1", contact, clk.Now(), map[string]any{
				"message": map[string]any{"contactId": contact, "text": "Yes, call me"},
			}))
			Eventually(func(g Gomega) {
				got := getRun(run)(g)
				expectSucceeded(g, got, v1alpha1.ReasonCompleted)
				g.Expect(got.Status.InboxConsumed).To(BeEquivalentTo(len(got.Spec.Inbox)))
				g.Expect(stepPhases(got)).To(Equal(map[string]v1alpha1.StepPhase{
					"settle": v1alpha1.StepSucceeded, "welcome": v1alpha1.StepSucceeded, "await-reply": v1alpha1.StepSucceeded,
					"follow-up": v1alpha1.StepSkipped, "await-second-reply": v1alpha1.StepSkipped, "hand-to-sales": v1alpha1.StepSkipped,
				}))
			}).Should(Succeed())
			// Three days later, still only the welcome email and no hand-over.
			clk.Step(72 * time.Hour)
			Consistently(func() int { return len(mailer.to(email)) }, "1s", "100ms").Should(Equal(1))
			Expect(commands(actions.CommandContactAssign, contact)).To(BeEmpty())
			Expect(writes.of(run.Name)).To(BeNumerically("<=", leadReplyWrites))
		})
	})
})
