package runner

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/test/fixture"
)

// Step builders.
func tagStep(name string, mods ...func(*v1alpha1.Step)) v1alpha1.Step {
	s := v1alpha1.Step{Name: name, AddTags: &v1alpha1.TagsAction{Tags: []v1alpha1.Template{v1alpha1.Template(name)}}}
	for _, m := range mods {
		m(&s)
	}
	return s
}

func guard(expr string) func(*v1alpha1.Step) {
	return func(s *v1alpha1.Step) { s.If = v1alpha1.Expression(expr) }
}

func waitStep(name string, d string) v1alpha1.Step {
	dur := v1alpha1.Duration(d)
	return v1alpha1.Step{Name: name, Wait: &v1alpha1.WaitAction{Duration: &dur}}
}

func eventStep(name, typ, timeout, filter string) v1alpha1.Step {
	return v1alpha1.Step{Name: name, WaitForEvent: &v1alpha1.WaitForEventAction{
		Types: []v1alpha1.EventType{v1alpha1.EventType(typ)}, Timeout: v1alpha1.Duration(timeout), Filter: v1alpha1.Expression(filter)}}
}

func TestInstantStepsAdvanceTogether(t *testing.T) {
	g := NewWithT(t)
	h := newHarness(t, newRun(eventSpec(tagStep("a"), tagStep("b"), tagStep("c"))))
	out := h.advance()
	g.Expect(h.rec.steps()).To(Equal([]string{"a", "b", "c"}))
	st := out.Status
	g.Expect(st.Phase).To(Equal(v1alpha1.RunSucceeded))
	g.Expect(st.Result).To(Equal(v1alpha1.ReasonCompleted))
	g.Expect(out.WakeAt).To(BeNil())
	g.Expect(st.CompletionTime.Time).To(Equal(t0))
	g.Expect(h.step("b").IdempotencyKey).To(Equal("uid-1/b"))
	g.Expect(h.rec.reqs[1].Origin.IdempotencyKey).To(Equal("uid-1/b"))
	g.Expect(h.step("b").Attempts).To(BeEquivalentTo(1))
	g.Expect(string(h.step("b").Output.Raw)).To(Equal(`{"ok":true}`))
	g.Expect(st.Conditions).To(ContainElements(
		And(HaveField("Type", v1alpha1.RunSucceededCondition), HaveField("Status", metav1.ConditionTrue), HaveField("Reason", v1alpha1.ReasonCompleted.String())),
		And(HaveField("Type", v1alpha1.RunEnrolledCondition), HaveField("Status", metav1.ConditionTrue), HaveField("Reason", v1alpha1.ReasonConditionsMet.String())),
	))
	g.Expect(out.Transitions).To(HaveLen(2))
	g.Expect(out.Actions).To(HaveLen(3))
	// A finished run does not move again.
	again := h.advance()
	g.Expect(again.Status).To(Equal(st))
	g.Expect(h.rec.steps()).To(HaveLen(3))
}

func TestGuards(t *testing.T) {
	cases := []struct {
		name    string
		guard   string
		phase   v1alpha1.StepPhase
		message string
	}{
		{"true guard runs", `lead.source == "Website"`, v1alpha1.StepSucceeded, "done addTags"},
		{"false guard skips", `lead.source == "Phone"`, v1alpha1.StepSkipped, "if is false: skipped"},
		{"missing field is false", `lead.owner == "x"`, v1alpha1.StepSkipped, "if is false (missing field: no such key: owner): skipped"},
		{"has() on a missing entity", `has(ticket.id)`, v1alpha1.StepSkipped, "if is false: skipped"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			h := newHarness(t, newRun(eventSpec(tagStep("guarded", guard(tc.guard)), tagStep("after"))))
			h.advance()
			g.Expect(h.step("guarded").Phase).To(Equal(tc.phase))
			g.Expect(h.step("guarded").Message).To(Equal(tc.message))
			g.Expect(h.step("after").Phase).To(Equal(v1alpha1.StepSucceeded))
			g.Expect(h.run.Status.Phase).To(Equal(v1alpha1.RunSucceeded))
		})
	}
}

func TestBranchAndEnd(t *testing.T) {
	branch := func(cond, then, els string) v1alpha1.Step {
		return v1alpha1.Step{Name: "route", Branch: &v1alpha1.BranchAction{If: v1alpha1.Expression(cond), Then: then, Else: els}}
	}
	end := func(name string, result v1alpha1.EndResult, reason, msg string) v1alpha1.Step {
		return v1alpha1.Step{Name: name, End: &v1alpha1.EndAction{Result: result, Reason: reason, Message: v1alpha1.Template(msg)}}
	}
	cases := []struct {
		name   string
		steps  []v1alpha1.Step
		ran    []string
		phase  v1alpha1.RunPhase
		reason v1alpha1.ConditionReason
		msg    string
	}{
		{"then jumps", []v1alpha1.Step{branch(`lead.source == "Website"`, "web", ""), tagStep("other"), tagStep("web")},
			[]string{"web"}, v1alpha1.RunSucceeded, v1alpha1.ReasonCompleted, "all steps done"},
		{"false goes on to the next step", []v1alpha1.Step{branch(`lead.source == "Phone"`, "web", ""), tagStep("other"), tagStep("web")},
			[]string{"other", "web"}, v1alpha1.RunSucceeded, v1alpha1.ReasonCompleted, "all steps done"},
		{"else jumps", []v1alpha1.Step{branch(`lead.source == "Phone"`, "other", "web"), tagStep("other"), tagStep("web")},
			[]string{"web"}, v1alpha1.RunSucceeded, v1alpha1.ReasonCompleted, "all steps done"},
		{"end succeeds early", []v1alpha1.Step{tagStep("a"), end("stop", "", "", "done with {{ contact.firstName }}"), tagStep("b")},
			[]string{"a"}, v1alpha1.RunSucceeded, v1alpha1.ReasonEnded, "done with Ann"},
		{"end fails with a reason", []v1alpha1.Step{end("stop", v1alpha1.EndFailed, "NotQualified", "lead {{ lead.id }} not qualified")},
			nil, v1alpha1.RunFailed, "NotQualified", "lead l-1 not qualified"},
		{"a branch loop without a wait stops", []v1alpha1.Step{tagStep("a"), branch("true", "a", "")},
			nil, v1alpha1.RunFailed, v1alpha1.ReasonStepFailed, "more than 1000 steps without a wait: does a branch loop forever?"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			h := newHarness(t, newRun(eventSpec(tc.steps...)))
			h.advance()
			st := h.run.Status
			g.Expect(st.Phase).To(Equal(tc.phase))
			g.Expect(st.Result).To(Equal(tc.reason))
			g.Expect(st.Message).To(Equal(tc.msg))
			if tc.ran != nil {
				g.Expect(h.rec.steps()).To(Equal(tc.ran))
			}
		})
	}
}

func TestWaitDuration(t *testing.T) {
	g := NewWithT(t)
	h := newHarness(t, newRun(eventSpec(waitStep("settle", "1h"), tagStep("after"))))
	out := h.advance()
	g.Expect(out.Status.Phase).To(Equal(v1alpha1.RunWaiting))
	g.Expect(*out.WakeAt).To(Equal(t0.Add(time.Hour)))
	g.Expect(out.Status.WaitingFor.Reason).To(Equal(v1alpha1.WaitDuration))
	g.Expect(h.step("settle").Phase).To(Equal(v1alpha1.StepWaiting))

	h.clk.Step(30 * time.Minute) // an early wake changes nothing
	before := h.run.Status.DeepCopy()
	out = h.advance()
	g.Expect(out.Status).To(Equal(*before))
	g.Expect(h.rec.steps()).To(BeEmpty())

	h.clk.Step(45 * time.Minute) // a late wake fires at once
	out = h.advance()
	g.Expect(out.Status.Phase).To(Equal(v1alpha1.RunSucceeded))
	g.Expect(h.step("settle").Message).To(Equal("waited until 2026-03-02T11:00:00Z"))
	g.Expect(h.rec.steps()).To(Equal([]string{"after"}))
}

func TestWaitUntilAndBusinessHours(t *testing.T) {
	saturday := time.Date(2026, 3, 7, 12, 0, 0, 0, time.UTC)
	ny, _ := time.LoadLocation("America/New_York")
	cases := []struct {
		name   string
		wait   v1alpha1.WaitAction
		at     time.Time
		wakeAt time.Time // zero: no wait
		reason string
	}{
		{"until a CEL timestamp", v1alpha1.WaitAction{Until: `now + duration("2h")`}, t0, t0.Add(2 * time.Hour), "Until"},
		{"until an RFC 3339 string", v1alpha1.WaitAction{Until: `"2026-03-05T08:00:00Z"`}, t0, time.Date(2026, 3, 5, 8, 0, 0, 0, time.UTC), "Until"},
		{"until a past time does not wait", v1alpha1.WaitAction{Until: `timestamp("2020-01-01T00:00:00Z")`}, t0, time.Time{}, ""},
		{"business hours on a Saturday wait for Monday", v1alpha1.WaitAction{BusinessHours: &v1alpha1.BusinessHours{
			TimeZone: "America/New_York", From: "09:00", To: "17:00"}}, saturday, time.Date(2026, 3, 9, 9, 0, 0, 0, ny), "BusinessHours"},
		{"inside business hours does not wait", v1alpha1.WaitAction{BusinessHours: &v1alpha1.BusinessHours{
			TimeZone: "UTC", Days: []v1alpha1.Weekday{"Mon"}, From: "09:00", To: "17:00"}}, t0, time.Time{}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			h := newHarness(t, newRun(eventSpec(v1alpha1.Step{Name: "w", Wait: &tc.wait}, tagStep("after"))))
			h.clk.SetTime(tc.at)
			out := h.advance()
			if tc.wakeAt.IsZero() {
				g.Expect(out.Status.Phase).To(Equal(v1alpha1.RunSucceeded))
				g.Expect(h.step("w").Message).To(HavePrefix("no wait"))
				return
			}
			g.Expect(out.WakeAt).NotTo(BeNil())
			g.Expect(out.WakeAt.Equal(tc.wakeAt)).To(BeTrue(), "wakeAt %s, want %s", out.WakeAt, tc.wakeAt)
			g.Expect(string(out.Status.WaitingFor.Reason)).To(Equal(tc.reason))
			h.clk.SetTime(tc.wakeAt)
			out = h.advance()
			g.Expect(out.Status.Phase).To(Equal(v1alpha1.RunSucceeded))
			g.Expect(h.rec.steps()).To(Equal([]string{"after"}))
		})
	}
}

func TestWaitForEvent(t *testing.T) {
	reply := func(id string, text string) *v1alpha1.CloudEvent {
		return fixture.Event("message.received", obj{"message": obj{"text": text}}, fixture.SetEventID(id))
	}
	spec := func() *v1alpha1.WorkflowSpec {
		return eventSpec(eventStep("await", "message.received", "2d", `message.text != "auto-reply"`),
			tagStep("replied", guard(`steps["await"].received && steps["await"].event.data.message.text == "yes"`)),
			tagStep("silent", guard(`steps["await"].timedOut`)))
	}
	t.Run("a matching event ends the wait and is visible to later steps", func(t *testing.T) {
		g := NewWithT(t)
		h := newHarness(t, newRun(spec()))
		out := h.advance()
		g.Expect(out.Status.WaitingFor).To(Equal(&v1alpha1.WaitingFor{Reason: "Event", EventTypes: []string{"message.received"},
			Message: "message.received for c-42, timeout at 2026-03-04T10:00:00Z"}))
		g.Expect(*out.WakeAt).To(Equal(t0.Add(48 * time.Hour)))
		g.Expect(Interested(h.run, h.run.Spec.Workflow, reply("x", "x"))).To(BeTrue())

		h.clk.Step(time.Hour)
		h.deliver(fixture.Event("ticket.created", obj{}), reply("m-1", "auto-reply"), reply("m-2", "yes"), reply("m-3", "again"))
		out = h.advance()
		g.Expect(NewInboxEvents(h.run, out.Status.InboxConsumed)).To(BeEmpty())
		g.Expect(h.step("await").Phase).To(Equal(v1alpha1.StepSucceeded))
		g.Expect(h.step("await").Message).To(Equal("received message.received event crm/test/m-2"))
		g.Expect(h.phases()).To(Equal(map[string]v1alpha1.StepPhase{"await": "Succeeded", "replied": "Succeeded", "silent": "Skipped"}))
		g.Expect(out.Status.Phase).To(Equal(v1alpha1.RunSucceeded))
	})
	t.Run("the timeout resolves the wait with timedOut", func(t *testing.T) {
		g := NewWithT(t)
		h := newHarness(t, newRun(spec()))
		h.advance()
		h.clk.Step(48 * time.Hour)
		out := h.advance()
		g.Expect(h.phases()).To(Equal(map[string]v1alpha1.StepPhase{"await": "Succeeded", "replied": "Skipped", "silent": "Succeeded"}))
		g.Expect(string(h.step("await").Output.Raw)).To(Equal(`{"received":false,"timedOut":true}`))
		g.Expect(out.Status.Phase).To(Equal(v1alpha1.RunSucceeded))
	})
	t.Run("events are consumed exactly once", func(t *testing.T) {
		g := NewWithT(t)
		h := newHarness(t, newRun(eventSpec(eventStep("first", "message.received", "1d", ""), eventStep("second", "message.received", "1d", ""))))
		h.advance()
		h.deliver(reply("m-1", "hi"))
		out := h.advance()
		g.Expect(h.step("first").Phase).To(Equal(v1alpha1.StepSucceeded))
		g.Expect(h.step("second").Phase).To(Equal(v1alpha1.StepWaiting))
		g.Expect(NewInboxEvents(h.run, out.Status.InboxConsumed)).To(BeEmpty())
		out = h.advance() // the same event is not seen again
		g.Expect(h.step("second").Phase).To(Equal(v1alpha1.StepWaiting))
		h.deliver(reply("m-2", "again"))
		h.advance()
		g.Expect(h.run.Status.Phase).To(Equal(v1alpha1.RunSucceeded))
		g.Expect(h.step("second").Message).To(ContainSubstring("m-2"))
	})
}

func TestExitGoals(t *testing.T) {
	spec := eventSpec(waitStep("settle", "1h"), tagStep("after"))
	spec.ExitWhen = []v1alpha1.ExitGoal{{Name: "won", Types: []v1alpha1.EventType{"lead.status.changed"}, If: `lead.status == "Won"`}}
	g := NewWithT(t)
	h := newHarness(t, newRun(spec))
	h.advance()
	h.deliver(fixture.Event("lead.status.changed", obj{"lead": obj{"status": "Lost"}}, fixture.SetEventID("s-1")))
	out := h.advance()
	g.Expect(out.Status.Phase).To(Equal(v1alpha1.RunWaiting))
	g.Expect(NewInboxEvents(h.run, out.Status.InboxConsumed)).To(BeEmpty())
	h.deliver(fixture.Event("lead.status.changed", obj{"lead": obj{"status": "Won"}}, fixture.SetEventID("s-2")))
	out = h.advance()
	g.Expect(out.Status.Phase).To(Equal(v1alpha1.RunSucceeded))
	g.Expect(out.Status.Result).To(Equal(v1alpha1.ReasonGoalReached))
	g.Expect(out.Status.Message).To(Equal(`goal "won" reached by lead.status.changed event crm/test/s-2`))
	g.Expect(h.step("settle").Phase).To(Equal(v1alpha1.StepSkipped))
	g.Expect(h.rec.steps()).To(BeEmpty())
	g.Expect(out.WakeAt).To(BeNil())
}

func TestPauseHoldsAtTheNextStepBoundary(t *testing.T) {
	g := NewWithT(t)
	h := newHarness(t, newRun(eventSpec(tagStep("a"), waitStep("w", "1h"), tagStep("b"))))
	h.advance()
	h.paused = true
	h.clk.Step(time.Hour)
	out := h.advance()
	g.Expect(h.step("w").Phase).To(Equal(v1alpha1.StepSucceeded)) // the running wait finishes
	g.Expect(out.Status.Phase).To(Equal(v1alpha1.RunWaiting))
	g.Expect(out.Status.CurrentStep).To(Equal("b"))
	g.Expect(out.Status.WaitingFor.Reason).To(Equal(v1alpha1.WaitPaused))
	g.Expect(out.WakeAt).To(BeNil())
	g.Expect(out.Transitions).To(ConsistOf(HaveField("Reason", v1alpha1.ReasonPaused.String())))
	g.Expect(h.advance().Transitions).To(BeEmpty()) // no repeated Event while paused
	h.paused = false
	out = h.advance()
	g.Expect(out.Status.Phase).To(Equal(v1alpha1.RunSucceeded))
	g.Expect(h.rec.steps()).To(Equal([]string{"a", "b"}))
}

func TestCancel(t *testing.T) {
	g := NewWithT(t)
	h := newHarness(t, newRun(eventSpec(waitStep("w", "1h"), tagStep("b"))))
	h.advance()
	h.run.Spec.Cancel = true
	out := h.advance()
	g.Expect(out.Status.Phase).To(Equal(v1alpha1.RunCancelled))
	g.Expect(out.Status.Result).To(Equal(v1alpha1.ReasonCancelled))
	g.Expect(h.step("w").Phase).To(Equal(v1alpha1.StepFailed))
	g.Expect(out.Status.Conditions).To(ContainElement(And(HaveField("Type", v1alpha1.RunSucceededCondition),
		HaveField("Status", metav1.ConditionFalse), HaveField("Reason", v1alpha1.ReasonCancelled.String()))))
	g.Expect(out.Transitions).To(ConsistOf(And(HaveField("Warning", true), HaveField("Reason", v1alpha1.ReasonCancelled.String()))))
	g.Expect(out.Status.Message).To(Equal("cancelled by spec.cancel"), "no reason given")
}

// TestCancelSaysWhy: a canceller that says why (intake, for a date run whose
// date was cleared) gets its reason in the result, not "by spec.cancel".
func TestCancelSaysWhy(t *testing.T) {
	g := NewWithT(t)
	at := metav1.NewTime(t0.Add(time.Hour))
	h := newHarness(t, newRun(eventSpec(tagStep("a")), func(r *v1alpha1.WorkflowRun) { r.Spec.ScheduledTime = &at }))
	g.Expect(h.advance().Status.Phase).To(Equal(v1alpha1.RunPending))
	h.run.Spec.Cancel = true
	h.run.Annotations = map[string]string{v1alpha1.AnnotationCancelReason: "date contact.renewalDate cleared by event u-3 from crm; the scheduled run is dropped"}
	out := h.advance()
	g.Expect(out.Status.Phase).To(Equal(v1alpha1.RunCancelled))
	g.Expect(out.Status.Message).To(Equal("cancelled: date contact.renewalDate cleared by event u-3 from crm; the scheduled run is dropped"))
	g.Expect(h.rec.steps()).To(BeEmpty())
}

func TestScheduledTimeIsRespected(t *testing.T) {
	g := NewWithT(t)
	at := metav1.NewTime(t0.Add(time.Hour))
	h := newHarness(t, newRun(eventSpec(tagStep("a")), func(r *v1alpha1.WorkflowRun) { r.Spec.ScheduledTime = &at }))
	out := h.advance()
	g.Expect(out.Status.Phase).To(Equal(v1alpha1.RunPending))
	g.Expect(out.Status.WaitingFor.Reason).To(Equal(v1alpha1.WaitDelay))
	g.Expect(*out.WakeAt).To(Equal(at.Time))
	g.Expect(h.rec.steps()).To(BeEmpty())
	h.clk.Step(time.Hour)
	out = h.advance()
	g.Expect(out.Status.Phase).To(Equal(v1alpha1.RunSucceeded))
	g.Expect(h.rec.steps()).To(Equal([]string{"a"}))
}

func TestConditionsNotMetEndsTheRun(t *testing.T) {
	g := NewWithT(t)
	spec := eventSpec(tagStep("a"))
	spec.Conditions = []v1alpha1.Condition{{Name: "phone", Field: "lead.source", Operator: v1alpha1.OperatorEquals, Value: jsonValue(`"Phone"`)}}
	h := newHarness(t, newRun(spec))
	out := h.advance()
	g.Expect(out.Status.Phase).To(Equal(v1alpha1.RunSucceeded))
	g.Expect(out.Status.Result).To(Equal(v1alpha1.ReasonConditionsNotMet))
	g.Expect(out.Status.ConditionResults).To(Equal([]v1alpha1.ConditionResult{{Name: "phone", Expression: `lead.source == "Phone"`, Result: false, Message: `false (lead.source = "Website")`}}))
	g.Expect(out.Status.Conditions).To(ContainElement(And(HaveField("Type", v1alpha1.RunEnrolledCondition), HaveField("Status", metav1.ConditionFalse))))
	g.Expect(out.Status.Steps).To(BeEmpty())
	g.Expect(h.rec.steps()).To(BeEmpty())
}

func TestInvalidSnapshotFailsTheRun(t *testing.T) {
	g := NewWithT(t)
	h := newHarness(t, newRun(eventSpec(tagStep("a", guard("1 +")))))
	out := h.advance()
	g.Expect(out.Status.Phase).To(Equal(v1alpha1.RunFailed))
	g.Expect(out.Status.Result).To(Equal(v1alpha1.ReasonInvalidWorkflow))
	g.Expect(out.Status.Message).To(ContainSubstring("spec.steps[0].if: 1:4: Syntax error"))
}

// A wait never ends before its duration has passed, whatever the sub-second
// part of the moment it began: status keeps whole seconds, so its start is
// recorded rounded up and the wake compared with the precise clock.
func TestWaitNeverEndsEarly(t *testing.T) {
	g := NewWithT(t)
	h := newHarness(t, newRun(eventSpec(waitStep("pause", "2s"), tagStep("after"))))
	h.clk.Step(900 * time.Millisecond) // the wait begins at t0+0.9s
	began := h.clk.Now()
	out := h.advance()
	g.Expect(out.Status.Phase).To(Equal(v1alpha1.RunWaiting))
	g.Expect(out.WakeAt).NotTo(BeNil())
	g.Expect(out.WakeAt.Sub(began)).To(BeNumerically(">=", 2*time.Second), "wakeAt %s, began %s", out.WakeAt, began)

	h.clk.Step(1950 * time.Millisecond) // 1.95s after the wait began: not yet
	h.advance()
	g.Expect(h.step("pause").Phase).To(Equal(v1alpha1.StepWaiting))

	h.clk.SetTime(*out.WakeAt)
	h.advance()
	g.Expect(h.step("pause").Phase).To(Equal(v1alpha1.StepSucceeded))
	g.Expect(h.clk.Now().Sub(began)).To(BeNumerically(">=", 2*time.Second))
}
