//go:build !unit

package console_test

import (
	"fmt"
	"net/http"
	"net/url"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// activate sets spec.state Active with a merge patch (status may have moved on).
func activate(wf *v1alpha1.Workflow) {
	GinkgoHelper()
	patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"state":"Active"}}`))
	Expect(k8sClient.Patch(suiteCtx, wf, patch)).To(Succeed())
}

type runsPage struct {
	Items []struct {
		Name, Subject, Phase, Workflow string
	}
	Continue string
}

var _ = Describe("Runs", func() {
	It("pages on the server and filters by phase and subject", func() {
		ns := newNamespace("runs")
		wf := createSample("vip-routing", ns)
		activate(wf)
		for i := 1; i <= 3; i++ {
			sendEvent(ns, "conversation.started", fmt.Sprintf("evt-%d", i), map[string]any{
				"conversation": map[string]any{"id": fmt.Sprint(i), "contactId": fmt.Sprintf("c-%d", i), "channel": "chat"},
				"contact":      map[string]any{"id": fmt.Sprintf("c-%d", i), "firstName": "P", "lastName": "Q", "tags": []string{"VIP"}},
			})
		}
		c := newAPIClient(localURL)
		list := func(q url.Values) runsPage {
			GinkgoHelper()
			var p runsPage
			Expect(c.do(http.MethodGet, "/api/namespaces/"+ns+"/runs?"+q.Encode(), nil, false, &p)).To(Equal(http.StatusOK))
			return p
		}
		Eventually(func() []struct{ Name, Subject, Phase, Workflow string } {
			return list(url.Values{"workflow": {"vip-routing"}, "phase": {"Succeeded"}}).Items
		}).Should(HaveLen(3))

		first := list(url.Values{"workflow": {"vip-routing"}, "limit": {"2"}})
		Expect(first.Items).To(HaveLen(2))
		Expect(first.Continue).NotTo(BeEmpty())
		second := list(url.Values{"workflow": {"vip-routing"}, "limit": {"2"}, "continue": {first.Continue}})
		Expect(second.Items).To(HaveLen(1))
		Expect(second.Continue).To(BeEmpty())
		Expect(second.Items[0].Name).NotTo(BeElementOf(first.Items[0].Name, first.Items[1].Name))

		Expect(list(url.Values{"phase": {"Failed"}}).Items).To(BeEmpty())
		bySubject := list(url.Values{"subject": {"c-2"}})
		Expect(bySubject.Items).To(HaveLen(1))
		Expect(bySubject.Items[0].Subject).To(Equal("c-2"))
		var bad answer
		Expect(c.do(http.MethodGet, "/api/namespaces/"+ns+"/runs?phase=Done", nil, false, &bad)).To(Equal(http.StatusBadRequest))
		Expect(bad.Message).To(ContainSubstring("phase"))

		By("paging in the browser")
		t := newTab()
		t.open(fmt.Sprintf("%s/#/ns/%s/runs?workflow=vip-routing&limit=2", localURL, ns))
		rowsShown := func() []string {
			return evalJS[[]string](t, `[...document.querySelectorAll('#runs tbody tr')].map(e => e.dataset.name)`)
		}
		Eventually(rowsShown).Should(HaveLen(2))
		t.click("#next-page")
		Eventually(rowsShown).Should(Equal([]string{second.Items[0].Name}))
		t.click("#prev-page")
		Eventually(rowsShown).Should(HaveLen(2))

		By("offering the subjects of recent runs as Test samples")
		var samples struct {
			Recent []struct{ Subject, Data string }
		}
		Expect(c.do(http.MethodGet, "/api/namespaces/"+ns+"/samples?type=conversation.started", nil, false, &samples)).To(Equal(http.StatusOK))
		Expect(samples.Recent).To(HaveLen(3))
		Expect(samples.Recent[0].Data).To(ContainSubstring(`"conversation"`))
		t.open(fmt.Sprintf("%s/#/ns/%s/workflows/vip-routing?tab=test", localURL, ns))
		t.waitText("#test-sample", "c-2 — last conversation.started")
		t.choose("#test-sample", evalJS[string](t, `[...document.querySelectorAll('#test-sample option')].find(o => o.text.startsWith('c-2 ')).value`))
		t.waitValue("#test-subject", "c-2")
		t.waitValue("#test-data", `"contactId": "c-2"`)
	})

	It("shows a waiting run's wake time, updates live and cancels it", func() {
		ns := newNamespace("cancel")
		wf := createSample("lead-follow-up", ns)
		activate(wf)
		run := sendEvent(ns, "lead.created", "lead-1", map[string]any{
			"lead":    map[string]any{"id": "l-1", "contactId": "c-9", "source": "Website"},
			"contact": map[string]any{"id": "c-9", "firstName": "Lee", "email": "lee@example.com"},
		})
		t := newTab()
		t.open(fmt.Sprintf("%s/#/ns/%s/runs/%s", localURL, ns, run))
		t.waitText("#run-waiting", "wakes")
		t.waitText(".run .toolbar", "Waiting")
		t.waitText(`.t-step[data-name="settle"]`, "Waiting")
		t.screenshot("run-waiting")
		t.click("#cancel-run")
		t.waitText(".run .toolbar", "Cancelled")
		got := &v1alpha1.WorkflowRun{}
		Expect(k8sClient.Get(suiteCtx, types.NamespacedName{Namespace: ns, Name: run}, got)).To(Succeed())
		Expect(got.Spec.Cancel).To(BeTrue())
		Expect(got.Status.Phase).To(Equal(v1alpha1.RunCancelled))
	})
})
