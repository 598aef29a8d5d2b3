//go:build !unit

package console_test

import (
	"fmt"
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// Contact ids above 2^53 (numeric CRM ids such as snowflakes), which a
// float64 or a JavaScript number rounds: 9007199254740993 would become
// 9007199254740992, another contact.
const (
	largeID  int64 = 9007199254740993
	largeHub int64 = 123456789012345678
)

var _ = Describe("Contact ids above 2^53", func() {
	It("stay exact from the receiver to the stored run, the CRM sink and the console's Test", func() {
		ns := newNamespace("ids")
		activate(createSample("vip-routing", ns)) // subject: conversation.contactId
		run := sendEvent(ns, "conversation.started", "evt-large-1", map[string]any{
			"conversation": map[string]any{"id": "conv-1", "contactId": largeID, "channel": "chat"},
			"contact":      map[string]any{"id": largeID, "hubspotId": largeHub, "firstName": "Lars", "tags": []string{"VIP"}},
		})

		By("storing the event exactly in the run, as kubectl reads it")
		got := &v1alpha1.WorkflowRun{}
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(suiteCtx, types.NamespacedName{Namespace: ns, Name: run}, got)).To(Succeed())
			g.Expect(got.Status.Phase).To(Equal(v1alpha1.RunSucceeded), got.Status.Message)
		}).Should(Succeed())
		Expect(got.Spec.Subject).To(Equal("9007199254740993"))
		Expect(string(got.Spec.Event.Data.Raw)).To(And(ContainSubstring(`"contactId":9007199254740993`), ContainSubstring(`"hubspotId":123456789012345678`)))
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("WorkflowRun"))
		Expect(k8sClient.Get(suiteCtx, types.NamespacedName{Namespace: ns, Name: run}, u)).To(Succeed())
		id, found, err := unstructured.NestedFieldNoCopy(u.Object, "spec", "event", "data", "contact", "id")
		Expect(err).NotTo(HaveOccurred())
		Expect(found).To(BeTrue())
		Expect(id).To(Equal(largeID))

		By("sending the CRM command for that contact")
		Expect(hook.received("/crm")).To(ContainElement(ContainSubstring(`"contactId":"9007199254740993"`)))

		By("offering the run's event as a Test sample, and testing with it")
		t := newTab()
		t.open(fmt.Sprintf("%s/#/ns/%s/workflows/vip-routing?tab=test", localURL, ns))
		t.waitText("#test-sample", "9007199254740993 — last conversation.started")
		t.choose("#test-sample", run)
		t.waitValue("#test-data", `"contactId": 9007199254740993`)
		t.waitValue("#test-data", `"hubspotId": 123456789012345678`)
		t.click("#run-test")
		t.waitText(`.plan-step[data-name="tag-conversation"]`, "for 9007199254740993")

		By("planning with it through the API")
		c := newAPIClient(localURL)
		plan := vipPlan()
		plan["event"].(map[string]any)["data"] = string(got.Spec.Event.Data.Raw)
		var p planned
		Expect(c.do(http.MethodPost, "/api/namespaces/"+ns+"/plan", plan, true, &p)).To(Equal(http.StatusOK))
		Expect(p.stepMessage("tag-conversation")).To(HavePrefix("would send io.crmflow.contact.tags.add for 9007199254740993 "))
	})
})
