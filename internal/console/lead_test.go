//go:build !unit

package console_test

import (
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/test/fixture"
)

// createSample creates config/samples/crmflow_v1alpha1_<file>.yaml in ns as a Draft.
func createSample(file, ns string) *v1alpha1.Workflow {
	GinkgoHelper()
	wf := fixture.MustSample(GinkgoT(), file, fixture.SetNamespace(ns), fixture.SetState(v1alpha1.WorkflowDraft))
	Expect(k8sClient.Create(suiteCtx, wf)).To(Succeed())
	return wf
}

func runsIn(ns string) int {
	GinkgoHelper()
	var list v1alpha1.WorkflowRunList
	Expect(k8sClient.List(suiteCtx, &list, client.InNamespace(ns))).To(Succeed())
	return len(list.Items)
}

var _ = Describe("Testing the lead follow-up in the browser", func() {
	It("shows the silent lead followed up and handed to sales, and a reply skipping both", func() {
		ns := newNamespace("lead")
		createSample("lead-follow-up", ns)
		t := newTab()
		t.open(fmt.Sprintf("%s/#/ns/%s/workflows/lead-follow-up?tab=test", localURL, ns))
		t.waitText("#test-sample", "Catalogue example for lead.created")
		t.waitValue("#test-data", `"lead"`)

		By("a lead that never replies")
		t.click("#run-test")
		t.waitText(`.plan-step[data-name="settle"]`, "wait")
		t.waitText(`.plan-step[data-name="welcome"] .rendered`, "Subject: Welcome, Ann")
		t.waitText(`.plan-step[data-name="follow-up"] .rendered`, "Still interested, Ann?")
		t.waitText(`.plan-step[data-name="hand-to-sales"]`, "Succeeded")
		Expect(t.text(`.plan-step[data-name="await-reply"]`)).NotTo(ContainSubstring("Skipped"))
		t.waitText(".plan-conditions", "lead.source = \"Website\"")
		t.screenshot("test-lead-no-reply")

		By("a lead that replies to the welcome email")
		t.click("#add-reply")
		t.waitValue(`.reply[data-index="0"] .reply-type`, "message.received")
		t.click("#run-test")
		t.waitText(`.plan-step[data-name="follow-up"]`, "Skipped")
		t.waitText(`.plan-step[data-name="await-second-reply"]`, "Skipped")
		t.waitText(`.plan-step[data-name="hand-to-sales"]`, "Skipped")
		t.screenshot("test-lead-reply")
		Expect(runsIn(ns)).To(BeZero(), "Test creates no run")
	})
})

var _ = Describe("Bad input in the browser", func() {
	It("answers malformed JSON, an unknown trigger kind and a huge paste with a clear message and changes nothing", func() {
		ns := newNamespace("bad")
		createSample("lead-follow-up", ns)
		before := &v1alpha1.Workflow{}
		Expect(k8sClient.Get(suiteCtx, types.NamespacedName{Namespace: ns, Name: "lead-follow-up"}, before)).To(Succeed())
		t := newTab()

		By("malformed JSON as Test's sample")
		t.open(fmt.Sprintf("%s/#/ns/%s/workflows/lead-follow-up?tab=test", localURL, ns))
		t.waitText("#test-sample", "Catalogue example")
		t.waitValue("#test-data", `"lead"`)
		t.retype("#test-data", `{"lead": {"source": "Website",}}`)
		t.click("#run-test")
		t.waitText(".test .error-box", "event.data: is not a JSON object: line 1, column 31")
		t.screenshot("bad-json")

		By("an unknown trigger kind in the YAML view")
		t.click("#tab-yaml")
		t.waitValue("#yaml", "lead.created")
		t.retype("#yaml", "apiVersion: crmflow.io/v1alpha1\nkind: Workflow\nmetadata:\n  name: lead-follow-up\nspec:\n  trigger:\n    webhook:\n      path: /x\n  steps:\n  - name: a\n    end: {}\n")
		t.click("#yaml-apply")
		t.waitText(".error-box", `unknown field "spec.trigger.webhook"`)

		By("a huge paste")
		evalJS[bool](t, `(() => { const el = document.querySelector('#yaml'); el.value = '# ' + 'x'.repeat(2 << 20); el.dispatchEvent(new Event('input', {bubbles: true})); return true })()`)
		t.click("#yaml-apply")
		t.waitText(".error-box", "the request is larger than 1024 KiB; nothing was changed")

		after := &v1alpha1.Workflow{}
		Expect(k8sClient.Get(suiteCtx, types.NamespacedName{Namespace: ns, Name: "lead-follow-up"}, after)).To(Succeed())
		Expect(after.Generation).To(Equal(before.Generation), "nothing changed")
		Expect(after.Spec).To(Equal(before.Spec))
		Expect(runsIn(ns)).To(BeZero())
		Expect(strings.Contains(t.text("#validation"), "Valid")).To(BeTrue(), "the form still holds the valid workflow")
	})
})
