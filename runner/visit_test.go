package runner

import (
	"errors"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/runner/actions"
	"github.com/crmflow/crmflow/test/fixture"
)

// TestBranchLoopVisits (issue 10 item 7): every pass of a branch loop back
// to a step is a new visit with its own idempotency key (so a receiver that
// drops repeats does not drop the second pass), the attempts of one visit
// share their key, and a reply consumed on an earlier visit is not consumed
// again when it is delivered again on a later one.
func TestBranchLoopVisits(t *testing.T) {
	g := NewWithT(t)
	loop := v1alpha1.Step{Name: "again", Branch: &v1alpha1.BranchAction{If: `steps["await"].received`, Then: "ping"}}
	h := newHarness(t, newRun(eventSpec(tagStep("ping"), eventStep("await", "message.received", "1d", ""), loop)))
	// The first attempt of the second visit fails and is retried.
	h.rec.fail = func(req actions.Request, n int) error {
		if n == 2 {
			return &actions.Error{Retryable: true, StatusCode: 503, Err: errors.New("unavailable")}
		}
		return nil
	}
	reply := func(id string) *v1alpha1.CloudEvent {
		return fixture.Event("message.received", obj{"message": obj{"text": "again"}}, fixture.SetEventID(id))
	}

	h.advance() // visit 1 of ping, then waits at await
	g.Expect(h.step("await").Phase).To(Equal(v1alpha1.StepWaiting))
	g.Expect(h.step("ping").Visit).To(Equal(int32(1)))

	h.deliver(reply("m-1"))
	h.advance() // loops: visit 2 of ping fails once
	g.Expect(h.step("ping").Visit).To(Equal(int32(2)))
	g.Expect(h.step("ping").IdempotencyKey).To(Equal("uid-1/ping/2"))
	h.clk.Step(time.Hour)
	h.advance() // the retry of visit 2 succeeds; waits at await again (visit 2)
	g.Expect(h.step("await").Phase).To(Equal(v1alpha1.StepWaiting))
	g.Expect(h.step("await").Visit).To(Equal(int32(2)))
	g.Expect(h.step("await").ConsumedEvents).To(ConsistOf(v1alpha1.EventReference{Source: "crm/test", ID: "m-1"}))

	h.deliver(reply("m-1")) // a redelivery of the reply the first visit consumed
	h.advance()
	g.Expect(h.step("await").Phase).To(Equal(v1alpha1.StepWaiting), "a consumed reply must not end a later visit's wait")
	g.Expect(h.step("ping").Visit).To(Equal(int32(2)))

	h.deliver(reply("m-2"))
	h.advance() // visit 3 of ping
	h.clk.Step(25 * time.Hour)
	h.advance() // await times out; the loop ends
	g.Expect(h.run.Status.Phase).To(Equal(v1alpha1.RunSucceeded))

	var keys []string
	for _, r := range h.rec.reqs {
		keys = append(keys, r.Origin.IdempotencyKey)
	}
	g.Expect(keys).To(Equal([]string{"uid-1/ping", "uid-1/ping/2", "uid-1/ping/2", "uid-1/ping/3"}),
		"one key per visit, the same on the retry of a visit")
}
