//go:build !unit

package console_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/types"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

var _ = Describe("Building the VIP routing workflow in the browser", func() {
	It("builds it from an empty namespace by form, refuses bad CEL on its field, tests, activates and shows the run succeed", func() {
		ns := newNamespace("vip")
		t := newTab()
		t.open(fmt.Sprintf("%s/#/ns/%s/workflows", localURL, ns))
		t.waitText("#no-workflows", "No workflows")

		By("creating the workflow by clicks and typing")
		t.click("#new-workflow")
		t.typeInto("#wf-name", "vip-routing")
		t.typeInto("#wf-description", "Route conversations with VIP contacts to the VIP support team.")
		t.choose("#trigger-type", "conversation.started")
		t.typeInto("#wf-subject", "conversation.contactId")
		t.click("#add-condition")
		t.typeInto(`.condition[data-index="0"] .cond-name`, "contact-is-vip")
		t.typeInto(`.condition[data-index="0"] .cond-field`, "contact.tags")
		t.choose(`.condition[data-index="0"] .cond-operator`, "Contains")
		t.typeInto(`.condition[data-index="0"] .cond-value`, "VIP")

		By("seeing a bad CEL condition refused on its own field")
		t.click("#add-cel-condition")
		t.typeInto(`.condition[data-index="1"] .cond-expression`, `contact.tags.exists(t, t ==`)
		t.waitText(`.field-error[data-for="spec.conditions[1]"]`, "Syntax error")
		Expect(t.text(`.field-error[data-for="spec.conditions[0]"]`)).To(BeEmpty(), "the good condition has no error")
		t.screenshot("builder-bad-cel")
		t.click(`.condition[data-index="1"] .cond-remove`)

		By("adding the steps from the action catalogue")
		t.typeInto("#conn-notify-secret", "crmflow-notify")
		t.typeInto("#conn-notify-key", "vip-support-url")
		t.click(`.add-step[data-at="0"]`)
		t.click(`.palette-item[data-kind="notify"]`)
		t.retype(`.step[data-index="0"] .step-name`, "notify-vip-team")
		t.typeInto(`.step[data-index="0"] .f-channel`, "vip-support")
		t.typeInto(`.step[data-index="0"] .f-message`, "VIP {{ contact.firstName }} {{ contact.lastName }} started a conversation on {{ conversation.channel }}.")
		t.click(`.add-step[data-at="1"]`)
		t.click(`.palette-item[data-kind="addTags"]`)
		t.retype(`.step[data-index="1"] .step-name`, "tag-conversation")
		t.typeInto(`.step[data-index="1"] .f-tags`, "VIP_Conversation")
		t.click(`.add-step[data-at="2"]`)
		t.click(`.palette-item[data-kind="updateContact"]`)
		t.retype(`.step[data-index="2"] .step-name`, "stamp-last-contact")
		t.typeInto(`.step[data-index="2"] .f-fields`, "last_vip_contact: {{ now }}")
		By("reordering steps")
		order := func() []string {
			return evalJS[[]string](t, `[...document.querySelectorAll('#steps .step')].map(e => e.dataset.name)`)
		}
		t.click(`.step[data-index="2"] .step-up`)
		Eventually(order).Should(Equal([]string{"notify-vip-team", "stamp-last-contact", "tag-conversation"}))
		t.click(`.step[data-index="1"] .step-down`)
		Eventually(order).Should(Equal([]string{"notify-vip-team", "tag-conversation", "stamp-last-contact"}))
		t.waitText("#validation", "Valid: the API server accepts this workflow")
		t.screenshot("builder-vip-routing")

		By("testing it with the catalogue's sample contact: nothing is sent")
		t.click("#tab-test")
		t.waitText("#test-sample", "Catalogue example for conversation.started")
		t.waitValue("#test-data", `"conversation"`)
		t.click("#run-test")
		t.waitText("#plan", "PASS")
		t.waitText(`.plan-step[data-name="notify-vip-team"] .rendered`, "VIP Ann Lee started a conversation on chat.")
		t.waitText(`.plan-step[data-name="tag-conversation"]`, "io.crmflow.contact.tags.add")
		t.screenshot("test-vip-routing")
		Expect(hook.received("/notify/"+ns+"/vip")).To(BeEmpty(), "Test sends nothing")

		By("activating it")
		t.click("#activate")
		t.waitText("#saved", "Saved and activated.")
		wf := &v1alpha1.Workflow{}
		Expect(k8sClient.Get(suiteCtx, types.NamespacedName{Namespace: ns, Name: "vip-routing"}, wf)).To(Succeed())
		Expect(wf.Spec.State).To(Equal(v1alpha1.WorkflowActive))
		Expect(wf.Spec.Trigger.Event.Types).To(Equal([]v1alpha1.EventType{"conversation.started"}))
		Expect(wf.Spec.Conditions).To(HaveLen(1))
		Expect(wf.Spec.Conditions[0].Field).To(Equal("contact.tags"))
		Expect(wf.Spec.Conditions[0].Operator).To(Equal(v1alpha1.ConditionOperator("Contains")))
		Expect(string(wf.Spec.Conditions[0].Value.Raw)).To(Equal(`"VIP"`))
		Expect(wf.Spec.Steps).To(HaveLen(3))
		Expect(wf.Spec.Steps[2].UpdateContact.Fields).To(HaveKeyWithValue("last_vip_contact", v1alpha1.Template("{{ now }}")))

		By("editing and saving it again, and exporting its YAML")
		t.waitValue("#wf-description", "Route conversations")
		t.retype("#wf-description", "Route conversations with VIP contacts to the VIP support team. Fast.")
		t.click("#save")
		t.waitText("#saved", "Saved and activated.")
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(suiteCtx, types.NamespacedName{Namespace: ns, Name: "vip-routing"}, wf)).To(Succeed())
			g.Expect(wf.Spec.Description).To(HaveSuffix("team. Fast."))
		}).Should(Succeed())
		Expect(wf.Spec.State).To(Equal(v1alpha1.WorkflowActive))
		resp, err := http.Get(fmt.Sprintf("%s/api/namespaces/%s/workflows/vip-routing/export", localURL, ns))
		Expect(err).NotTo(HaveOccurred())
		exported, err := io.ReadAll(resp.Body)
		Expect(err).NotTo(HaveOccurred())
		_ = resp.Body.Close()
		Expect(resp.Header.Get("Content-Disposition")).To(ContainSubstring("vip-routing.yaml"))
		Expect(string(exported)).To(And(ContainSubstring("kind: Workflow"), ContainSubstring("notify-vip-team"),
			Not(ContainSubstring("status:")), Not(ContainSubstring("resourceVersion")), Not(ContainSubstring("managedFields"))))

		t.click(`a[href="#/ns/` + ns + `/workflows"]`)
		t.waitText(`#workflows tr[data-name="vip-routing"]`, "Active")
		t.waitText(`#workflows tr[data-name="vip-routing"]`, "Ready")

		By("sending a conversation.started event to the receiver")
		run := sendEvent(ns, "conversation.started", "evt-vip-1", map[string]any{
			"conversation": map[string]any{"id": "conv-1", "contactId": "c-7", "channel": "chat"},
			"contact":      map[string]any{"id": "c-7", "firstName": "Vera", "lastName": "Ip", "tags": []string{"VIP"}},
		})

		By("watching the run's timeline reach Succeeded")
		t.open(fmt.Sprintf("%s/#/ns/%s/runs?workflow=vip-routing", localURL, ns))
		t.click(fmt.Sprintf(`#runs tr[data-name=%q] a`, run))
		t.waitText("#timeline", "notify-vip-team")
		t.waitText(".run .toolbar", "Succeeded")
		t.waitText(`.t-step[data-name="stamp-last-contact"]`, "Succeeded")
		t.waitText(`.t-step[data-name="notify-vip-team"]`, "idempotency key")
		Expect(t.text("#run-event-type")).To(Equal("conversation.started"))
		t.screenshot("run-timeline")
		Expect(hook.received("/notify/" + ns + "/vip")).To(ContainElement(ContainSubstring("VIP Vera Ip started a conversation on chat.")))

		By("seeing the run counted on the Workflows page")
		t.open(fmt.Sprintf("%s/#/ns/%s/workflows", localURL, ns))
		t.waitText(`#workflows tr[data-name="vip-routing"] .runs-count`, "0 / 1 / 0")
		Expect(t.text(`#workflows tr[data-name="vip-routing"]`)).To(ContainSubstring("ago"), "last triggered")
		t.screenshot("workflows")

		By("pausing and re-activating it from the list")
		row := `#workflows tr[data-name="vip-routing"]`
		t.click(row + " .pause")
		t.waitText(row, "Paused")
		Expect(stateOf(ns, "vip-routing")).To(Equal(v1alpha1.WorkflowPaused))
		t.click(row + " .activate")
		t.waitText(row, "Active")
		Expect(stateOf(ns, "vip-routing")).To(Equal(v1alpha1.WorkflowActive))

		By("listing every namespace's workflows for a person who may")
		t.choose("#namespace", "_all")
		t.waitText(fmt.Sprintf(`#workflows tr[data-namespace=%q][data-name="vip-routing"]`, ns), ns)
	})
})

// sendEvent posts a structured CloudEvent to the receiver and returns the
// name of the run it enrolled (retrying while the receiver's cache catches up).
func sendEvent(ns, typ, id string, data map[string]any) string {
	GinkgoHelper()
	body, err := json.Marshal(map[string]any{"specversion": "1.0", "id": id, "source": "crm.test", "type": typ,
		"datacontenttype": "application/json", "data": data})
	Expect(err).NotTo(HaveOccurred())
	var run string
	Eventually(func(g Gomega) {
		resp, err := http.Post(fmt.Sprintf("%s/v1/namespaces/%s/events", receiverURL, ns), "application/cloudevents+json", bytes.NewReader(body))
		g.Expect(err).NotTo(HaveOccurred())
		defer func() { _ = resp.Body.Close() }()
		g.Expect(resp.StatusCode).To(Equal(http.StatusAccepted))
		var answer struct {
			Events []struct {
				Enrolled []struct{ Run string } `json:"enrolled"`
			} `json:"events"`
		}
		g.Expect(json.NewDecoder(resp.Body).Decode(&answer)).To(Succeed())
		g.Expect(answer.Events).To(HaveLen(1))
		g.Expect(answer.Events[0].Enrolled).To(HaveLen(1))
		run = answer.Events[0].Enrolled[0].Run
	}).Should(Succeed())
	return run
}
