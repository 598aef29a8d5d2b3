package runner

import (
	"errors"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/runner/actions"
)

func TestRetryPolicy(t *testing.T) {
	attempts := int32(4)
	initial, max := v1alpha1.Duration("2s"), v1alpha1.Duration("5s")
	cases := []struct {
		name     string
		workflow *v1alpha1.RetryPolicy
		step     *v1alpha1.RetryPolicy
		random   float64
		delays   []time.Duration // after attempts 1, 2, 3, ...
	}{
		{"defaults: 1s doubling, jitter midpoint", nil, nil, 0.5, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}},
		{"jitter low end", nil, nil, 0, []time.Duration{800 * time.Millisecond, 1600 * time.Millisecond}},
		{"jitter high end", nil, nil, 0.99, []time.Duration{1196 * time.Millisecond}},
		{"step overrides workflow and caps", &v1alpha1.RetryPolicy{Attempts: &attempts}, &v1alpha1.RetryPolicy{InitialBackoff: &initial, MaxBackoff: &max},
			0.5, []time.Duration{2 * time.Second, 4 * time.Second, 5 * time.Second}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			rp, err := parseRetry(tc.workflow, tc.step)
			g.Expect(err).NotTo(HaveOccurred())
			for i, want := range tc.delays {
				g.Expect(rp.backoff(int32(i+1), func() float64 { return tc.random })).To(Equal(want), "after attempt %d", i+1)
			}
		})
	}
}

// TestFailTwiceThenSucceed: three attempts, one idempotency key, the
// backoff observed through the fake clock.
func TestFailTwiceThenSucceed(t *testing.T) {
	g := NewWithT(t)
	h := newHarness(t, newRun(eventSpec(tagStep("flaky"), tagStep("after"))))
	h.rec.fail = func(r actions.Request, n int) error {
		if r.Origin.Step == "flaky" && n <= 2 {
			return &actions.Error{Retryable: true, StatusCode: 503, Err: errors.New("unavailable")}
		}
		return nil
	}
	out := h.advance()
	g.Expect(h.step("flaky").Phase).To(Equal(v1alpha1.StepRunning))
	g.Expect(h.step("flaky").NextAttemptTime.Time).To(Equal(t0.Add(time.Second)))
	g.Expect(h.step("flaky").Message).To(Equal("attempt 1 of 5 failed: status 503: unavailable; next attempt at 2026-03-02T10:00:01Z"))
	g.Expect(*out.WakeAt).To(Equal(t0.Add(time.Second)))
	g.Expect(out.Status.WaitingFor.Reason).To(Equal(v1alpha1.WaitRetry))
	g.Expect(out.Transitions).To(ContainElement(HaveField("Reason", v1alpha1.ReasonRetrying.String())))

	h.clk.Step(999 * time.Millisecond) // too early: no attempt
	h.advance()
	g.Expect(h.rec.steps()).To(HaveLen(1))

	h.clk.Step(time.Millisecond)
	out = h.advance()
	g.Expect(*out.WakeAt).To(Equal(h.clk.Now().Add(2 * time.Second)))
	h.clk.Step(2 * time.Second)
	out = h.advance()

	g.Expect(out.Status.Phase).To(Equal(v1alpha1.RunSucceeded), "%+v", out.Status.Steps)
	g.Expect(h.step("flaky").Attempts).To(BeEquivalentTo(3))
	g.Expect(h.step("flaky").NextAttemptTime).To(BeNil())
	g.Expect(h.rec.steps()).To(Equal([]string{"flaky", "flaky", "flaky", "after"}))
	keys := map[string]bool{}
	for _, r := range h.rec.reqs[:3] {
		keys[r.Origin.IdempotencyKey] = true
	}
	g.Expect(keys).To(Equal(map[string]bool{"uid-1/flaky": true}))
}

func TestRetryOutcomes(t *testing.T) {
	cases := []struct {
		name            string
		err             error
		continueOnError bool
		attempts        int32
		phase           v1alpha1.RunPhase
		wakeIn          time.Duration
		message         string
	}{
		{"not retryable fails at once", &actions.Error{Retryable: false, StatusCode: 400, Err: errors.New("bad request")}, false, 1,
			v1alpha1.RunFailed, 0, "failed, not retryable: status 400: bad request"},
		{"continueOnError goes on", &actions.Error{Retryable: false, StatusCode: 404, Err: errors.New("gone")}, true, 1,
			v1alpha1.RunSucceeded, 0, "failed, not retryable: status 404: gone"},
		{"Retry-After is honoured", &actions.Error{Retryable: true, StatusCode: 429, RetryAfter: 90 * time.Second, Err: errors.New("slow down")}, false, 1,
			v1alpha1.RunWaiting, 90 * time.Second, "attempt 1 of 5 failed: status 429: slow down; next attempt at 2026-03-02T10:01:30Z"},
		{"network errors are retried", errors.New("connection refused"), false, 1,
			v1alpha1.RunWaiting, time.Second, "attempt 1 of 5 failed: connection refused; next attempt at 2026-03-02T10:00:01Z"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			h := newHarness(t, newRun(eventSpec(tagStep("x", func(s *v1alpha1.Step) { s.ContinueOnError = tc.continueOnError }), tagStep("after"))))
			h.rec.fail = func(r actions.Request, _ int) error {
				if r.Origin.Step == "x" {
					return tc.err
				}
				return nil
			}
			out := h.advance()
			g.Expect(out.Status.Phase).To(Equal(tc.phase))
			g.Expect(h.step("x").Attempts).To(Equal(tc.attempts))
			g.Expect(h.step("x").Message).To(Equal(tc.message))
			if tc.wakeIn > 0 {
				g.Expect(*out.WakeAt).To(Equal(t0.Add(tc.wakeIn)))
			}
		})
	}
}

func TestRetriesRunOut(t *testing.T) {
	g := NewWithT(t)
	one := int32(2)
	spec := eventSpec(tagStep("x"))
	spec.Retry = &v1alpha1.RetryPolicy{Attempts: &one}
	h := newHarness(t, newRun(spec))
	h.rec.fail = func(actions.Request, int) error { return errors.New("down") }
	out := h.advance()
	h.clk.SetTime(*out.WakeAt)
	out = h.advance()
	g.Expect(out.Status.Phase).To(Equal(v1alpha1.RunFailed))
	g.Expect(out.Status.Result).To(Equal(v1alpha1.ReasonStepFailed))
	g.Expect(out.Status.Message).To(Equal(`step "x" failed: failed after 2 attempt(s): down`))
	g.Expect(h.rec.steps()).To(HaveLen(2))
}

func TestTransitionsForKubernetesEvents(t *testing.T) {
	g := NewWithT(t)
	h := newHarness(t, newRun(eventSpec(tagStep("x", func(s *v1alpha1.Step) { s.ContinueOnError = true }), tagStep("y"))))
	h.rec.fail = func(r actions.Request, n int) error {
		if r.Origin.Step == "x" && n == 1 {
			return errors.New("timeout")
		}
		if r.Origin.Step == "x" {
			return &actions.Error{StatusCode: 422, Err: errors.New("invalid")}
		}
		return nil
	}
	out := h.advance()
	g.Expect(out.Transitions).To(Equal([]Transition{
		{Reason: v1alpha1.ReasonConditionsMet.String(), Message: "0 condition(s) held; enrolled c-42"},
		{Warning: true, Reason: v1alpha1.ReasonRetrying.String(), Message: "attempt 1 of 5 failed: timeout; next attempt at 2026-03-02T10:00:01Z"},
	}))
	h.clk.Step(time.Second)
	out = h.advance()
	g.Expect(out.Transitions).To(Equal([]Transition{
		{Warning: true, Reason: v1alpha1.ReasonStepFailed.String(), Message: `step "x" failed: failed, not retryable: status 422: invalid (continueOnError: going on)`},
		{Reason: v1alpha1.ReasonCompleted.String(), Message: "all steps done"},
	}))
	g.Expect(h.step("x").Phase).To(Equal(v1alpha1.StepFailed))
	g.Expect(out.Status.Phase).To(Equal(v1alpha1.RunSucceeded))
}
