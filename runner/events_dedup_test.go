package runner

import (
	"fmt"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/test/fixture"
)

// TestRepeatedDeliveryIsConsumedOnce: a second delivery of an event this
// run already consumed (same source and id) is dropped without effect,
// whatever it could match now: a later waitForEvent or an exit goal.
func TestRepeatedDeliveryIsConsumedOnce(t *testing.T) {
	reply := func(opts ...fixture.EventOption) *v1alpha1.CloudEvent {
		return fixture.Event("message.received", obj{"message": obj{"text": "yes"}}, append([]fixture.EventOption{fixture.SetEventID("m-1")}, opts...)...)
	}
	// big has data no capped output can hold: its id must survive anyway.
	bigData := obj{}
	for i := range 600 {
		bigData[fmt.Sprintf("field-%03d", i)] = "value"
	}
	big := fixture.Event("message.received", obj{"message": bigData}, fixture.SetEventID("m-big"))
	twoWaits := func() *v1alpha1.WorkflowSpec {
		return eventSpec(eventStep("await-reply", "message.received", "2d", ""), eventStep("await-second-reply", "message.received", "5d", ""), tagStep("after"))
	}
	cases := []struct {
		name string
		spec func() *v1alpha1.WorkflowSpec
		run  []runOpt
		// first is delivered and consumed before dup arrives (nil: none).
		first *v1alpha1.CloudEvent
		dup   *v1alpha1.CloudEvent
		// dropped: dup has no effect; otherwise it is a distinct event and ends the wait.
		dropped     bool
		waitingStep string
	}{
		{
			name: "a repeat does not satisfy a later waitForEvent", spec: twoWaits,
			first: reply(), dup: reply(), dropped: true, waitingStep: "await-second-reply",
		},
		{
			name: "a repeat with other data is still the same event", spec: twoWaits,
			first: reply(), dup: fixture.Event("message.received", obj{"message": obj{"text": "changed"}}, fixture.SetEventID("m-1")),
			dropped: true, waitingStep: "await-second-reply",
		},
		{
			name: "a repeat of an event too big for the step output", spec: twoWaits,
			first: big, dup: big, dropped: true, waitingStep: "await-second-reply",
		},
		{
			name: "the same id from another source is another event", spec: twoWaits,
			first: reply(), dup: reply(fixture.SetEventSource("crm/other")), dropped: false, waitingStep: "await-second-reply",
		},
		{
			name: "another id is another event", spec: twoWaits,
			first: reply(), dup: reply(fixture.SetEventID("m-2")), dropped: false, waitingStep: "await-second-reply",
		},
		{
			name: "a repeat of the triggering event does not satisfy a wait",
			spec: func() *v1alpha1.WorkflowSpec {
				s := eventSpec(eventStep("await-reply", "message.received", "2d", ""), tagStep("after"))
				s.Trigger.Event.Types = []v1alpha1.EventType{"message.received"}
				return s
			},
			run:     []runOpt{withEvent(reply(fixture.SetEventID("trigger-1")))},
			dup:     reply(fixture.SetEventID("trigger-1")),
			dropped: true, waitingStep: "await-reply",
		},
		{
			// The goal holds only once a first reply was received; the
			// first copy of m-1 is consumed by the wait, a repeat must not
			// count as the second reply.
			name: "a repeat does not reach a later exit goal",
			spec: func() *v1alpha1.WorkflowSpec {
				s := eventSpec(eventStep("await-reply", "message.received", "2d", ""), waitStep("settle", "1h"), tagStep("after"))
				s.ExitWhen = []v1alpha1.ExitGoal{{Name: "replied-twice", Types: []v1alpha1.EventType{"message.received"}, If: `steps["await-reply"].received`}}
				return s
			},
			first: reply(), dup: reply(), dropped: true, waitingStep: "settle",
		},
		{
			name: "a new reply does reach the later exit goal",
			spec: func() *v1alpha1.WorkflowSpec {
				s := eventSpec(eventStep("await-reply", "message.received", "2d", ""), waitStep("settle", "1h"), tagStep("after"))
				s.ExitWhen = []v1alpha1.ExitGoal{{Name: "replied-twice", Types: []v1alpha1.EventType{"message.received"}, If: `steps["await-reply"].received`}}
				return s
			},
			first: reply(), dup: reply(fixture.SetEventID("m-2")), dropped: false, waitingStep: "settle",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			h := newHarness(t, newRun(tc.spec(), tc.run...))
			h.advance()
			if tc.first != nil {
				h.deliver(tc.first)
				h.advance()
				g.Expect(h.step("await-reply").Phase).To(Equal(v1alpha1.StepSucceeded))
			}
			g.Expect(h.step(tc.waitingStep).Phase).To(Equal(v1alpha1.StepWaiting))

			h.deliver(tc.dup)
			out := h.advance()
			g.Expect(NewInboxEvents(h.run, out.Status.InboxConsumed)).To(BeEmpty())
			if tc.dropped {
				g.Expect(h.step(tc.waitingStep).Phase).To(Equal(v1alpha1.StepWaiting))
				g.Expect(out.Status.Phase).To(Equal(v1alpha1.RunWaiting))
				g.Expect(out.Transitions).To(ConsistOf(And(HaveField("Reason", v1alpha1.ReasonDuplicateEvent.String()),
					HaveField("Message", ContainSubstring(eventID(tc.dup))))))
				g.Expect(h.rec.steps()).To(BeEmpty())
				return
			}
			if tc.waitingStep == "settle" {
				g.Expect(out.Status.Result).To(Equal(v1alpha1.ReasonGoalReached))
				return
			}
			g.Expect(h.step(tc.waitingStep).Phase).To(Equal(v1alpha1.StepSucceeded))
			g.Expect(h.step(tc.waitingStep).Message).To(ContainSubstring(eventID(tc.dup)))
			g.Expect(out.Transitions).NotTo(ContainElement(HaveField("Reason", v1alpha1.ReasonDuplicateEvent.String())))
		})
	}
}
