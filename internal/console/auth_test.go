//go:build !unit

package console_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// apiClient is a browser-like HTTP client of one console: cookies kept,
// the CSRF token echoed when asked.
type apiClient struct {
	base string
	http *http.Client
	csrf string
}

func newAPIClient(base string) *apiClient {
	GinkgoHelper()
	jar, err := cookiejar.New(nil)
	Expect(err).NotTo(HaveOccurred())
	c := &apiClient{base: base, http: &http.Client{Jar: jar}}
	var s struct{ CSRFToken string }
	Expect(c.do(http.MethodGet, "/api/session", nil, false, &s)).To(Equal(http.StatusOK))
	c.csrf = s.CSRFToken
	Expect(c.csrf).NotTo(BeEmpty())
	return c
}

// do sends a request and decodes the JSON answer into out; it returns the status.
func (c *apiClient) do(method, path string, body any, withCSRF bool, out any, headers ...string) int {
	GinkgoHelper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		Expect(err).NotTo(HaveOccurred())
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(suiteCtx, method, c.base+path, r)
	Expect(err).NotTo(HaveOccurred())
	req.Header.Set("Content-Type", "application/json")
	if withCSRF {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.http.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	if out != nil {
		Expect(json.Unmarshal(raw, out)).To(Succeed(), string(raw))
	}
	return resp.StatusCode
}

type answer struct {
	Message string
	Items   []struct{ Name string }
	Fields  []struct{ Field, Message string }
}

// tokenFor makes a ServiceAccount in ns that may edit crmflow resources in
// ns only, and returns a bearer token of it (TokenRequest).
func tokenFor(ns, name string) string {
	GinkgoHelper()
	Expect(k8sClient.Create(suiteCtx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}})).To(Succeed())
	Expect(k8sClient.Create(suiteCtx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "crmflow-editor", Namespace: ns},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"crmflow.io"}, Resources: []string{"workflows", "workflowruns"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch"}},
			{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"list"}},
		},
	})).To(Succeed())
	Expect(k8sClient.Create(suiteCtx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-crmflow-editor", Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "crmflow-editor"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: ns}},
	})).To(Succeed())
	cs, err := kubernetes.NewForConfig(cfg)
	Expect(err).NotTo(HaveOccurred())
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(suiteCtx, name,
		&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	return tr.Status.Token
}

func stateOf(ns, name string) v1alpha1.WorkflowState {
	GinkgoHelper()
	wf := &v1alpha1.Workflow{}
	Expect(k8sClient.Get(suiteCtx, types.NamespacedName{Namespace: ns, Name: name}, wf)).To(Succeed())
	return wf.Spec.State
}

var _ = Describe("Authorization of the in-cluster console", func() {
	var nsA, nsB, token string
	BeforeEach(func() {
		nsA, nsB = newNamespace("team-a"), newNamespace("team-b")
		createSample("vip-routing", nsA)
		createSample("vip-routing", nsB)
		token = tokenFor(nsA, "alice")
	})

	It("acts only with the signed-in person's own rights, through the API server's RBAC", func() {
		c := newAPIClient(passURL)
		var a answer

		By("refusing every call before sign-in: the manager's rights are never used")
		Expect(c.do(http.MethodGet, "/api/namespaces/"+nsA+"/workflows", nil, false, &a)).To(Equal(http.StatusUnauthorized))

		By("refusing a sign-in without the CSRF token")
		Expect(c.do(http.MethodPost, "/api/login", map[string]string{"token": token}, false, &a)).To(Equal(http.StatusForbidden))
		Expect(a.Message).To(ContainSubstring("CSRF"))
		Expect(c.do(http.MethodPost, "/api/login", map[string]string{"token": "not-a-token"}, true, &a)).To(Equal(http.StatusUnauthorized))
		var who struct{ User string }
		Expect(c.do(http.MethodPost, "/api/login", map[string]string{"token": token}, true, &who)).To(Equal(http.StatusOK))
		Expect(who.User).To(Equal("system:serviceaccount:" + nsA + ":alice"))

		By("showing namespace A and nothing of namespace B")
		Expect(c.do(http.MethodGet, "/api/namespaces/"+nsA+"/workflows", nil, false, &a)).To(Equal(http.StatusOK))
		Expect(a.Items).To(HaveLen(1))
		a = answer{}
		Expect(c.do(http.MethodGet, "/api/namespaces/"+nsB+"/workflows", nil, false, &a)).To(Equal(http.StatusForbidden))
		Expect(a.Message).To(ContainSubstring(`cannot list resource "workflows"`))
		Expect(a.Items).To(BeEmpty())
		Expect(c.do(http.MethodGet, "/api/namespaces/"+nsB+"/workflows/vip-routing", nil, false, &a)).To(Equal(http.StatusForbidden))
		Expect(c.do(http.MethodGet, "/api/namespaces/"+nsB+"/runs", nil, false, &a)).To(Equal(http.StatusForbidden))
		Expect(c.do(http.MethodGet, "/api/workflows", nil, false, &a)).To(Equal(http.StatusForbidden))
		Expect(a.Message).To(ContainSubstring("at the cluster scope"))
		var nss struct{ CanList bool }
		Expect(c.do(http.MethodGet, "/api/namespaces", nil, false, &nss)).To(Equal(http.StatusOK))
		Expect(nss.CanList).To(BeFalse())

		By("refusing to activate in namespace B")
		Expect(c.do(http.MethodPost, fmt.Sprintf("/api/namespaces/%s/workflows/vip-routing/state", nsB), map[string]string{"state": "Active"}, true, &a)).To(Equal(http.StatusForbidden))
		Expect(a.Message).To(ContainSubstring(`cannot patch resource "workflows"`))
		Expect(stateOf(nsB, "vip-routing")).To(Equal(v1alpha1.WorkflowDraft))

		By("refusing a mutating call without the CSRF token, or from another origin")
		Expect(c.do(http.MethodPost, fmt.Sprintf("/api/namespaces/%s/workflows/vip-routing/state", nsA), map[string]string{"state": "Active"}, false, &a)).To(Equal(http.StatusForbidden))
		Expect(a.Message).To(ContainSubstring("CSRF"))
		Expect(c.do(http.MethodPost, fmt.Sprintf("/api/namespaces/%s/workflows/vip-routing/state", nsA), map[string]string{"state": "Active"}, true, &a,
			"Origin", "http://evil.example")).To(Equal(http.StatusForbidden))
		Expect(stateOf(nsA, "vip-routing")).To(Equal(v1alpha1.WorkflowDraft))

		By("activating in namespace A, where the person may")
		Expect(c.do(http.MethodPost, fmt.Sprintf("/api/namespaces/%s/workflows/vip-routing/state", nsA), map[string]string{"state": "Active"}, true, &a)).To(Equal(http.StatusOK))
		Expect(stateOf(nsA, "vip-routing")).To(Equal(v1alpha1.WorkflowActive))
	})

	It("signs in from the browser with a token and lists namespace A", func() {
		t := newTab()
		t.open(passURL + "/")
		t.waitText(".login", "Sign in")
		t.typeInto("#login-token", token)
		t.screenshot("sign-in")
		t.click("#login-submit")
		t.waitText("header", "signed in")
		t.open(fmt.Sprintf("%s/#/ns/%s/workflows", passURL, nsA))
		t.waitText(`#workflows tr[data-name="vip-routing"]`, "Draft")
		t.open(fmt.Sprintf("%s/#/ns/%s/workflows", passURL, nsB))
		t.waitText(".error-box", "forbidden")
		Expect(evalJS[string](t, `document.cookie`)).To(BeEmpty(), "the token and CSRF cookies are HttpOnly")
		t.click("#sign-out")
		t.waitText(".login", "Sign in")
	})
})

var _ = Describe("The local console", func() {
	It("answers only to its own address, and sets a strict Content-Security-Policy", func() {
		req, err := http.NewRequestWithContext(suiteCtx, http.MethodGet, localURL+"/", nil)
		Expect(err).NotTo(HaveOccurred())
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		_ = resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		Expect(resp.Header.Get("Content-Security-Policy")).To(ContainSubstring("script-src 'self'"))
		Expect(resp.Header.Get("Content-Security-Policy")).NotTo(ContainSubstring("unsafe-inline"))

		req.Host = "rebound.example:80"
		resp, err = http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		_ = resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusMisdirectedRequest))
	})
})
