//go:build !unit

package console_test

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/types"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

var _ = Describe("A scheduled workflow with a branch in the browser", func() {
	It("builds a cron trigger and an if/else branch to a named step, drawn in the step", func() {
		ns := newNamespace("branch")
		t := newTab()
		t.open(fmt.Sprintf("%s/#/ns/%s/new", localURL, ns))
		t.typeInto("#wf-name", "weekly-check")
		t.choose("#trigger-kind", "schedule")
		t.retype("#trigger-cron", "0 9 * * 1")
		t.retype("#trigger-tz", "Europe/Berlin")
		t.retype("#trigger-schedule-subject", "weekly")

		t.click(`.add-step[data-at="0"]`)
		t.click(`.palette-item[data-kind="addTags"]`)
		t.retype(`.step[data-index="0"] .step-name`, "tag")
		t.typeInto(`.step[data-index="0"] .f-tags`, "Weekly")
		t.click(`.add-step[data-at="1"]`)
		t.click(`.palette-item[data-kind="end"]`)
		t.retype(`.step[data-index="1"] .step-name`, "stop")
		t.click(`.add-step[data-at="1"]`)
		t.click(`.palette-item[data-kind="branch"]`)
		t.retype(`.step[data-index="1"] .step-name`, "skip-if-vip")
		t.typeInto(`.step[data-index="1"] .f-if`, `subject == "vip"`)
		t.waitText("#validation", "problem")
		t.waitText(`.field-error[data-for="spec.steps[1].branch.then"]`, `no step named ""`)

		t.choose(`.step[data-index="1"] .f-then`, "stop")
		t.waitText(`.step[data-name="skip-if-vip"] .branch-graph`, "then → stop")
		t.waitText(`.step[data-name="skip-if-vip"] .branch-graph`, "else → next step")
		t.waitText("#validation", "Valid")
		Expect(evalJS[int](t, `document.querySelectorAll('#flow-graph .flow-edge.flow-then[data-from="skip-if-vip"][data-to="stop"]').length`)).To(Equal(1), "the branch is drawn")
		t.screenshot("builder-branch")
		t.click("#save-draft")
		t.waitText("#saved", "Saved as Draft.")

		wf := &v1alpha1.Workflow{}
		Expect(k8sClient.Get(suiteCtx, types.NamespacedName{Namespace: ns, Name: "weekly-check"}, wf)).To(Succeed())
		Expect(wf.Spec.State).To(Equal(v1alpha1.WorkflowDraft))
		Expect(wf.Spec.Trigger.Schedule.Cron).To(Equal("0 9 * * 1"))
		Expect(wf.Spec.Trigger.Schedule.TimeZone).To(Equal("Europe/Berlin"))
		Expect(wf.Spec.Steps).To(HaveLen(3))
		Expect(wf.Spec.Steps[1].Branch.Then).To(Equal("stop"))
	})
})
