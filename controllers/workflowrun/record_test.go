package workflowrun

import (
	"errors"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/controllers"
	"github.com/crmflow/crmflow/runner"
	"github.com/crmflow/crmflow/test/fixture"
)

func TestEventLimiter(t *testing.T) {
	g := NewWithT(t)
	var l eventLimiter
	g.Expect(l.allow("sales/wf/StepFailed", t0)).To(BeTrue(), "the first Event of a key passes")
	g.Expect(l.allow("sales/wf/StepFailed", t0.Add(59*time.Second))).To(BeFalse(), "a second within the interval does not")
	g.Expect(l.allow("sales/other/StepFailed", t0.Add(time.Second))).To(BeTrue(), "keys are independent")
	g.Expect(l.allow("sales/wf/StepFailed", t0.Add(eventInterval))).To(BeTrue(), "the next interval passes again")
}

func TestWorthAnEvent(t *testing.T) {
	g := NewWithT(t)
	for _, reason := range []string{v1alpha1.ReasonPaused.String(), v1alpha1.ReasonDuplicateEvent.String(), v1alpha1.SkipActiveRun.String(), v1alpha1.SkipAlreadyEnrolled.String(), v1alpha1.SkipDuplicate.String()} {
		g.Expect(worthAnEvent(reason)).To(BeTrue(), reason)
	}
	for _, reason := range []string{v1alpha1.ReasonRunning.String(), v1alpha1.ReasonWaiting.String(), v1alpha1.ReasonCompleted.String()} {
		g.Expect(worthAnEvent(reason)).To(BeFalse(), reason)
	}
}

// TestRecordTransitions reads what a pass recorded from the Events and from
// the Prometheus registry, as an operator would.
func TestRecordTransitions(t *testing.T) {
	g := NewWithT(t)
	reg := prometheus.NewRegistry()
	m, err := controllers.NewMetrics(reg)
	g.Expect(err).NotTo(HaveOccurred())
	rec := events.NewFakeRecorder(10)
	r := &Reconciler{Recorder: rec, Metrics: m, Clock: clocktesting.NewFakePassiveClock(t0)}
	run := fixture.Run("r", t0, fixture.SetRunPhase(v1alpha1.RunFailed))
	run.Spec.WorkflowName = "wf"
	out := runner.Outcome{Transitions: []runner.Transition{
		{Reason: v1alpha1.ReasonRunning.String(), Message: "started"},
		{Warning: true, Reason: v1alpha1.ReasonStepFailed.String(), Message: "notify: 400"},
		{Warning: true, Reason: v1alpha1.ReasonStepFailed.String(), Message: "again"},
	}}

	r.recordTransitions(&run, "", &out)
	g.Expect(rec.Events).To(HaveLen(1), "a normal transition is no Event; one Event per workflow, reason and minute")
	g.Expect(<-rec.Events).To(Equal("Warning StepFailed notify: 400"))
	g.Expect(gathered(t, reg, "crmflow_runs_started_total", "sales", "wf")).To(Equal(1.0))
	g.Expect(gathered(t, reg, "crmflow_runs_finished_total", "sales", "Failed", "wf")).To(Equal(1.0))

	r.recordTransitions(&run, v1alpha1.RunFailed, &runner.Outcome{})
	g.Expect(gathered(t, reg, "crmflow_runs_started_total", "sales", "wf")).To(Equal(1.0), "a run that had started is not counted again")
	g.Expect(gathered(t, reg, "crmflow_runs_finished_total", "sales", "Failed", "wf")).To(Equal(1.0), "nor one that had finished")

	r.recordActions([]runner.ActionRecord{{Kind: "notify", Duration: time.Second}, {Kind: "notify", Err: errors.New("503")}})
	g.Expect(gathered(t, reg, "crmflow_step_duration_seconds", "notify")).To(Equal(2.0), "both attempts observed")
	g.Expect(gathered(t, reg, "crmflow_action_errors_total", "notify")).To(Equal(1.0))

	nothing := &Reconciler{Clock: r.Clock}
	nothing.recordTransitions(&run, "", &out) // no Recorder, no Metrics: records nothing, and does not panic
	nothing.recordActions([]runner.ActionRecord{{Kind: "notify"}})
}

// gathered reads from reg the value of the series name with the label
// values given in the order of their names (namespace, phase, workflow): a counter's value, a histogram's sample count; -1
// when there is no such series.
func gathered(t *testing.T, reg *prometheus.Registry, name string, labelValues ...string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			if len(m.GetLabel()) != len(labelValues) {
				continue
			}
			for i, l := range m.GetLabel() {
				if l.GetValue() != labelValues[i] {
					continue series
				}
			}
			if h := m.GetHistogram(); h != nil {
				return float64(h.GetSampleCount())
			}
			return m.GetCounter().GetValue()
		}
	}
	return -1
}
