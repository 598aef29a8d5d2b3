//go:build !unit

package chart

import (
	"testing"

	. "github.com/onsi/gomega"
	admissionv1 "k8s.io/api/admissionregistration/v1"
)

// TestTemplateRunWebhookFailsClosed: webhook.failurePolicy=Ignore and a
// webhook.namespaceSelector relax the Workflow webhooks only. The run
// webhook is the one place that refuses edits of a run's spec, and the one
// that refuses a hand-made real run with an inline spec up front (the run
// controller fails such a run later); were it Ignore, a run's event, cause
// or inbox could be rewritten while no replica answers (a rollout, a
// crash), and a namespace outside the selector would never be checked.
func TestTemplateRunWebhookFailsClosed(t *testing.T) {
	g := NewWithT(t)
	r := renderChart(t, "--set", "webhook.failurePolicy=Ignore", "--set-string", "webhook.namespaceSelector.matchLabels.crmflow\\.io/enabled=true")
	var vwc admissionv1.ValidatingWebhookConfiguration
	var mwc admissionv1.MutatingWebhookConfiguration
	r.get(t, "ValidatingWebhookConfiguration", "", &vwc)
	r.get(t, "MutatingWebhookConfiguration", "", &mwc)
	hooks := map[string]admissionv1.ValidatingWebhook{}
	for _, w := range vwc.Webhooks {
		hooks[w.Name] = w
	}
	g.Expect(hooks).To(HaveKey("vworkflowrun-v1alpha1.crmflow.io"))
	run := hooks["vworkflowrun-v1alpha1.crmflow.io"]
	g.Expect(*run.FailurePolicy).To(Equal(admissionv1.Fail))
	g.Expect(run.NamespaceSelector).To(BeNil(), "the run webhook covers every namespace")
	g.Expect(run.MatchConditions).To(ConsistOf(HaveField("Name", "not-the-manager")))

	wf := hooks["vworkflow-v1alpha1.crmflow.io"]
	g.Expect(*wf.FailurePolicy).To(Equal(admissionv1.Ignore))
	g.Expect(wf.NamespaceSelector.MatchLabels).To(HaveKeyWithValue("crmflow.io/enabled", "true"))
	g.Expect(*mwc.Webhooks[0].FailurePolicy).To(Equal(admissionv1.Ignore))
}
