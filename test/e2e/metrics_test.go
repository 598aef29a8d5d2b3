//go:build !unit

package e2e

import (
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/controllers"
	"github.com/crmflow/crmflow/test/fixture"
)

// metricValue gathers reg and returns the value of the counter (or the
// sample count of the histogram) name with exactly the given labels; -1
// when there is no such series.
func metricValue(reg *prometheus.Registry, name string, labels map[string]string) (float64, error) {
	families, err := reg.Gather()
	if err != nil {
		return 0, err
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if !hasLabels(m, labels) {
				continue
			}
			if h := m.GetHistogram(); h != nil {
				return float64(h.GetSampleCount()), nil
			}
			return m.GetCounter().GetValue(), nil
		}
	}
	return -1, nil
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	if len(m.GetLabel()) != len(want) {
		return false
	}
	for _, l := range m.GetLabel() {
		if v, ok := want[l.GetName()]; !ok || v != l.GetValue() {
			return false
		}
	}
	return true
}

var _ = Describe("Metrics", func() {
	var (
		ns  string
		clk *clocktesting.FakeClock
		reg *prometheus.Registry
	)
	BeforeEach(func() {
		ns = newNamespace()
		clk = newFakeClock()
		reg = prometheus.NewRegistry()
		m, err := controllers.NewMetrics(reg)
		Expect(err).NotTo(HaveOccurred())
		startManager(managerOptions{namespace: ns, clock: clk, poll: fakeClockPoll, metrics: m})
	})
	value := func(name string, labels map[string]string) func() (float64, error) {
		return func() (float64, error) { return metricValue(reg, name, labels) }
	}

	It("counts a finished seed run by workflow and phase, and failed action attempts by kind", func() {
		By("a VIP routing run that succeeds")
		vip := createWorkflow(sample("vip-routing", ns))
		run := enroll(vip, cloudEvent("conversation.started", "conv-1", "c-vip-metrics", clk.Now(), map[string]any{
			"conversation": map[string]any{"contactId": "c-vip-metrics", "channel": "chat"},
			"contact":      map[string]any{"firstName": "Ann", "lastName": "Lee", "tags": []any{"VIP"}},
		}), "c-vip-metrics")
		Eventually(phaseOf(run)).Should(Equal(v1alpha1.RunSucceeded))
		vipLabels := map[string]string{"namespace": ns, "workflow": vip.Name}
		Eventually(value("crmflow_runs_finished_total", map[string]string{"namespace": ns, "workflow": vip.Name, "phase": "Succeeded"})).Should(Equal(1.0))
		Expect(metricValue(reg, "crmflow_runs_started_total", vipLabels)).To(Equal(1.0))
		Expect(metricValue(reg, "crmflow_runs_finished_total", map[string]string{"namespace": ns, "workflow": vip.Name, "phase": "Failed"})).To(Equal(-1.0))
		for _, kind := range []string{"notify", "addTags", "updateContact"} {
			Expect(metricValue(reg, "crmflow_step_duration_seconds", map[string]string{"kind": kind})).To(Equal(1.0), kind)
			Expect(metricValue(reg, "crmflow_action_errors_total", map[string]string{"kind": kind})).To(Equal(-1.0), kind)
		}

		By("a notify that fails once with 503, then succeeds on retry")
		support := "/notify/" + ns + "/support"
		target.failNext(support, 1)
		flaky := createWorkflow(remindWorkflow(ns, "flaky", fixture.SetRetry(3, "10s"), fixture.SetSteps(fixture.NotifyStep("alert", "alert {{ subject }}")),
			func(wf *v1alpha1.Workflow) { wf.Spec.Connections.Notify.WebhookURLSecretRef.Key = "support-url" }))
		retried := enroll(flaky, cloudEvent("conversation.started", "r1", "c-metrics-retry", clk.Now(),
			map[string]any{"conversation": map[string]any{"contactId": "c-metrics-retry"}}), "c-metrics-retry")
		Eventually(value("crmflow_action_errors_total", map[string]string{"kind": "notify"})).Should(Equal(1.0))
		Expect(metricValue(reg, "crmflow_runs_finished_total", map[string]string{"namespace": ns, "workflow": flaky.Name, "phase": "Succeeded"})).To(Equal(-1.0))
		clk.Step(time.Minute) // past the retry (Retry-After: 30)
		Eventually(phaseOf(retried)).Should(Equal(v1alpha1.RunSucceeded))
		Eventually(value("crmflow_runs_finished_total", map[string]string{"namespace": ns, "workflow": flaky.Name, "phase": "Succeeded"})).Should(Equal(1.0))
		Expect(metricValue(reg, "crmflow_action_errors_total", map[string]string{"kind": "notify"})).To(Equal(1.0))
		Expect(metricValue(reg, "crmflow_step_duration_seconds", map[string]string{"kind": "notify"})).To(Equal(3.0))

		By("a notify refused for good: the run fails and is counted as Failed")
		target.FailNext(support, 1, http.StatusBadRequest, "")
		broken := createWorkflow(remindWorkflow(ns, "refused", fixture.SetSteps(fixture.NotifyStep("alert", "alert {{ subject }}")),
			func(wf *v1alpha1.Workflow) { wf.Spec.Connections.Notify.WebhookURLSecretRef.Key = "support-url" }))
		failed := enroll(broken, cloudEvent("conversation.started", "f1", "c-metrics-fail", clk.Now(),
			map[string]any{"conversation": map[string]any{"contactId": "c-metrics-fail"}}), "c-metrics-fail")
		Eventually(phaseOf(failed)).Should(Equal(v1alpha1.RunFailed))
		Eventually(value("crmflow_runs_finished_total", map[string]string{"namespace": ns, "workflow": broken.Name, "phase": "Failed"})).Should(Equal(1.0))
		Expect(metricValue(reg, "crmflow_action_errors_total", map[string]string{"kind": "notify"})).To(Equal(2.0))
		Consistently(value("crmflow_runs_finished_total", map[string]string{"namespace": ns, "workflow": vip.Name, "phase": "Succeeded"}), "500ms", "100ms").Should(Equal(1.0))
	})
})
