//go:build !unit

package console_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/test/fixture"
)

// vipPlan is a Test request for the VIP routing sample: its tag and stamp
// steps are CRM commands, which go to the manager's CRM sink.
func vipPlan() map[string]any {
	GinkgoHelper()
	wf := fixture.MustSample(GinkgoT(), "vip-routing")
	data, err := json.Marshal(map[string]any{
		"conversation": map[string]any{"id": "conv-7", "contactId": "c-42", "channel": "chat"},
		"contact":      map[string]any{"id": "c-42", "firstName": "Ann", "tags": []string{"VIP"}},
	})
	Expect(err).NotTo(HaveOccurred())
	return map[string]any{"spec": wf.Spec, "event": map[string]any{"type": "conversation.started", "subject": "c-42", "data": string(data)}}
}

// planned is the part of a Test plan these specs read.
type planned struct {
	Triggers bool
	Steps    []struct {
		Name, Phase, Message string
		Output               json.RawMessage
	}
}

// stepMessage is the message of the plan's step name.
func (p planned) stepMessage(name string) string {
	GinkgoHelper()
	for _, s := range p.Steps {
		if s.Name == name {
			return s.Message
		}
	}
	Fail("the plan has no step " + name)
	return ""
}

// rawRequest sends path exactly as written (no client-side unescaping or
// cleaning) and returns the status and body.
func rawRequest(method, base, path string, headers ...string) (int, string) {
	GinkgoHelper()
	req, err := http.NewRequestWithContext(suiteCtx, method, base+"/", nil)
	Expect(err).NotTo(HaveOccurred())
	req.URL.Opaque = path
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	return resp.StatusCode, string(body)
}

var _ = Describe("Identity on every API route of the in-cluster console", func() {
	var ns, token string
	BeforeEach(func() {
		ns = newNamespace("ident")
		token = tokenFor(ns, "carol")
	})

	It("answers 401 without a valid token before running the engine or reading the body, and only session, login and logout are public", func() {
		anon := newAPIClient(passURL)
		var a answer
		badCEL := map[string]any{"workflow": map[string]any{"metadata": map[string]any{"name": "w"}, "spec": map[string]any{
			"trigger":    map[string]any{"event": map[string]any{"types": []string{"contact.created"}}},
			"conditions": []any{map[string]any{"name": "c", "expression": "1 +"}},
			"steps":      []any{map[string]any{"name": "s", "addTags": map[string]any{"tags": []string{"x"}}}},
		}}, "dryRun": true}
		for _, call := range []struct {
			method, path string
			body         any
		}{
			{http.MethodPost, "/api/namespaces/" + ns + "/plan", vipPlan()},
			{http.MethodPost, "/api/namespaces/" + ns + "/workflows", badCEL},
			{http.MethodPost, "/api/yaml/parse", map[string]string{"yaml": "kind: Workflow\n"}},
			{http.MethodPost, "/api/yaml/render", map[string]any{"workflow": map[string]any{"metadata": map[string]any{"name": "w"}}}},
			{http.MethodGet, "/api/catalogue", nil},
			{http.MethodGet, "/api/namespaces/" + ns + "/samples", nil},
			{http.MethodGet, "/api/no-such-endpoint", nil},
		} {
			By(call.method + " " + call.path)
			a = answer{}
			Expect(anon.do(call.method, call.path, call.body, true, &a)).To(Equal(http.StatusUnauthorized), a.Message)
			Expect(a.Fields).To(BeEmpty(), "nothing was validated")
			a = answer{}
			Expect(anon.do(call.method, call.path, call.body, true, &a, "Authorization", "Bearer not-a-token")).To(Equal(http.StatusUnauthorized), a.Message)
			Expect(a.Message).To(ContainSubstring("did not accept the token"))
		}

		By("answering session and logout without a token")
		var s struct{ SignedIn bool }
		Expect(anon.do(http.MethodGet, "/api/session", nil, false, &s)).To(Equal(http.StatusOK))
		Expect(s.SignedIn).To(BeFalse())
		Expect(anon.do(http.MethodPost, "/api/logout", nil, true, nil)).To(Equal(http.StatusOK))

		By("serving the same calls to a signed-in person")
		var who struct{ User string }
		Expect(anon.do(http.MethodPost, "/api/login", map[string]string{"token": token}, true, &who)).To(Equal(http.StatusOK))
		Expect(anon.do(http.MethodGet, "/api/catalogue", nil, false, nil)).To(Equal(http.StatusOK))
		var p planned
		Expect(anon.do(http.MethodPost, "/api/namespaces/"+ns+"/plan", vipPlan(), true, &p)).To(Equal(http.StatusOK))
		Expect(p.Triggers).To(BeTrue())
		a = answer{}
		Expect(anon.do(http.MethodPost, "/api/namespaces/"+ns+"/workflows", badCEL, true, &a)).To(Equal(http.StatusUnprocessableEntity))
		Expect(a.Fields).NotTo(BeEmpty())
	})

	It("never shows the manager's CRM sink in a Test plan, but shows a workflow's own", func() {
		c := newAPIClient(passURL)
		Expect(c.do(http.MethodPost, "/api/login", map[string]string{"token": token}, true, nil)).To(Equal(http.StatusOK))
		var raw json.RawMessage
		Expect(c.do(http.MethodPost, "/api/namespaces/"+ns+"/plan", vipPlan(), true, &raw)).To(Equal(http.StatusOK))
		Expect(string(raw)).NotTo(ContainSubstring(hook.srv.URL))
		var p planned
		Expect(json.Unmarshal(raw, &p)).To(Succeed())
		Expect(p.stepMessage("tag-conversation")).To(Equal("would send io.crmflow.contact.tags.add for c-42 to the manager's CRM sink (--crm-sink-url)"))

		own := vipPlan()
		spec := own["spec"].(v1alpha1.WorkflowSpec)
		spec.Connections.CRM = &v1alpha1.CRMConnection{SinkURL: "https://crm.example/own-sink"}
		own["spec"] = spec
		p = planned{}
		Expect(c.do(http.MethodPost, "/api/namespaces/"+ns+"/plan", own, true, &p)).To(Equal(http.StatusOK))
		Expect(p.stepMessage("tag-conversation")).To(HaveSuffix(" to https://crm.example/own-sink"))

		By("showing it in the local console, whose user gave it (kubectl crmflow ui --crm-sink-url)")
		local := newAPIClient(localURL)
		p = planned{}
		Expect(local.do(http.MethodPost, "/api/namespaces/"+ns+"/plan", vipPlan(), true, &p)).To(Equal(http.StatusOK))
		Expect(p.stepMessage("tag-conversation")).To(HaveSuffix(" to " + hook.srv.URL + "/crm"))
	})

	It("takes the Bearer scheme of an Authorization header in any case", func() {
		for _, scheme := range []string{"Bearer", "bearer", "BEARER"} {
			c := newAPIClient(passURL)
			var a answer
			Expect(c.do(http.MethodGet, "/api/namespaces/"+ns+"/workflows", nil, false, &a, "Authorization", scheme+" "+token)).To(Equal(http.StatusOK), scheme+": "+a.Message)
			Expect(c.do(http.MethodPost, "/api/namespaces/"+ns+"/plan", vipPlan(), true, &a, "Authorization", scheme+" "+token)).To(Equal(http.StatusOK), scheme+": "+a.Message)
		}
	})
})

var _ = Describe("Names in the console's URL paths", func() {
	It("answers 400 naming the path segment before any API call", func() {
		ns := newNamespace("paths")
		for _, tc := range []struct{ method, path, want string }{
			{http.MethodGet, "/api/namespaces/..%2Fdefault/runs", "namespace in the URL path"},
			{http.MethodGet, "/api/namespaces/..%2fdefault/workflows", "namespace in the URL path"},
			{http.MethodGet, "/api/namespaces/Default/workflows", "namespace in the URL path"},
			{http.MethodGet, "/api/namespaces/a%2Fb/secrets", "namespace in the URL path"},
			{http.MethodGet, "/api/namespaces/" + ns + "/workflows/..%2F..%2F..%2F..%2Fapi%2Fv1%2Fnamespaces%2Fdefault%2Fsecrets", "name in the URL path"},
			{http.MethodGet, "/api/namespaces/%2e%2e/runs", "namespace in the URL path"},
			{http.MethodGet, "/api/namespaces/" + ns + "/workflows/%2E%2E", "name in the URL path"},
			{http.MethodGet, "/api/namespaces/" + ns + "/workflows/VIP/export", "name in the URL path"},
			{http.MethodGet, "/api/namespaces/" + ns + "/runs/a%2Fb", "name in the URL path"},
		} {
			for _, base := range []string{localURL, passURL} {
				By(base + " " + tc.path)
				status, body := rawRequest(tc.method, base, tc.path)
				Expect(status).To(Equal(http.StatusBadRequest), body)
				Expect(body).To(ContainSubstring(tc.want))
			}
		}

		By("answering 400, not 500, when client-go refuses a name from the body")
		c := newAPIClient(localURL)
		wf := createSample("vip-routing", ns)
		body := map[string]any{"workflow": map[string]any{
			"metadata": map[string]any{"name": "a/b", "resourceVersion": wf.ResourceVersion}, "spec": wf.Spec}, "dryRun": true}
		var a answer
		Expect(c.do(http.MethodPost, "/api/namespaces/"+ns+"/workflows", body, true, &a)).To(Equal(http.StatusBadRequest), a.Message)
		Expect(a.Message).To(And(ContainSubstring("save workflow"), ContainSubstring(`invalid resource name "a/b"`)))
		Expect(strings.Count(a.Message, "a/b")).To(Equal(1))
	})
})
