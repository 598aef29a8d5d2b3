//go:build !unit

package console_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/internal/console"
	"github.com/crmflow/crmflow/internal/history"
	"github.com/crmflow/crmflow/internal/history/api"
	"github.com/crmflow/crmflow/internal/history/historytest"
	"github.com/crmflow/crmflow/runner"
)

var _ = Describe("runs that have left etcd", func() {
	It("are read from the run history API, with the console user's own token", func() {
		ns := fmt.Sprintf("archived-%d", time.Now().UnixNano()%100000)
		Expect(k8sClient.Create(suiteCtx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())

		By("a ServiceAccount that may read runs in this namespace only, and its token")
		Expect(k8sClient.Create(suiteCtx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "viewer", Namespace: ns}})).To(Succeed())
		Expect(k8sClient.Create(suiteCtx, &rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "run-reader", Namespace: ns},
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"crmflow.io"}, Resources: []string{"workflowruns"}, Verbs: []string{"get", "list"}}},
		})).To(Succeed())
		Expect(k8sClient.Create(suiteCtx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "viewer-reads-runs", Namespace: ns},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "run-reader"},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "viewer", Namespace: ns}},
		})).To(Succeed())
		cs, err := kubernetes.NewForConfig(cfg)
		Expect(err).NotTo(HaveOccurred())
		tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(suiteCtx, "viewer", &authnv1.TokenRequest{
			Spec: authnv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		userCfg := rest.AnonymousClientConfig(cfg)
		userCfg.BearerToken = tr.Status.Token
		user, err := client.New(userCfg, client.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())

		By("a run history store holding one finished run, served by the history API over TLS")
		hs := historytest.Serve(GinkgoTB(), k8sClient)
		store := hs.Store
		created := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
		Expect(store.Archive(suiteCtx, []history.Run{{
			UID: "uid-1", Namespace: ns, Name: "vip-routing-gone", Workflow: "vip-routing", Subject: "c-42",
			EventSource: "crm", EventID: "e-1", EventType: "conversation.started",
			Event: json.RawMessage(`{"id":"e-1","source":"crm","type":"conversation.started","data":{"contact":{"id":"c-42"}}}`),
			Steps: []v1alpha1.StepStatus{{Name: "notify-vip-team", Phase: v1alpha1.StepSucceeded, Message: "notified"}},
			Phase: string(v1alpha1.RunSucceeded), Result: "Completed", Message: "all steps done",
			Created: created, Started: created, Finished: created.Add(time.Second),
		}})).To(Succeed())
		historyAPI, err := console.NewHTTPHistory(hs.URL, userCfg, hs.CAFile, false)
		Expect(err).NotTo(HaveOccurred())

		By("a local console with the user's identity and the history API")
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		srv, err := console.NewLocal(user, console.Options{Listener: ln, Scheme: scheme, Engine: runner.New(runner.Options{}), History: historyAPI})
		Expect(err).NotTo(HaveOccurred())
		go func() { _ = srv.Start(suiteCtx) }()
		base := "http://" + ln.Addr().String()
		get := func(path string, into any) int {
			var code int
			Eventually(func(g Gomega) {
				resp, err := http.Get(base + path)
				g.Expect(err).NotTo(HaveOccurred())
				defer func() { _ = resp.Body.Close() }()
				body, err := io.ReadAll(resp.Body)
				g.Expect(err).NotTo(HaveOccurred())
				code = resp.StatusCode
				if code == http.StatusOK {
					g.Expect(json.Unmarshal(body, into)).To(Succeed(), string(body))
				}
			}).Should(Succeed())
			return code
		}

		var run struct {
			Archived bool                 `json:"archived"`
			Workflow string               `json:"workflow"`
			Event    *v1alpha1.CloudEvent `json:"event"`
			Status   v1alpha1.WorkflowRunStatus
		}
		Expect(get("/api/namespaces/"+ns+"/runs/vip-routing-gone", &run)).To(Equal(http.StatusOK))
		Expect(run.Archived).To(BeTrue())
		Expect(run.Workflow).To(Equal("vip-routing"))
		Expect(run.Event).NotTo(BeNil())
		Expect(run.Event.ID).To(Equal("e-1"))
		Expect(run.Status.Phase).To(Equal(v1alpha1.RunSucceeded))
		Expect(run.Status.Steps).To(ConsistOf(HaveField("Name", "notify-vip-team")))

		var page struct {
			Items    []map[string]any `json:"items"`
			Archived []struct {
				Name     string `json:"name"`
				Archived bool   `json:"archived"`
				Phase    string `json:"phase"`
			} `json:"archived"`
		}
		Expect(get("/api/namespaces/"+ns+"/runs?workflow=vip-routing", &page)).To(Equal(http.StatusOK))
		Expect(page.Items).To(BeEmpty())
		Expect(page.Archived).To(ConsistOf(And(HaveField("Name", "vip-routing-gone"), HaveField("Archived", true), HaveField("Phase", "Succeeded"))))
		Expect(get("/api/namespaces/"+ns+"/runs?subject=c-42", &page)).To(Equal(http.StatusOK))
		Expect(page.Archived).To(HaveLen(1))

		By("a run in neither place is still a 404")
		Expect(get("/api/namespaces/"+ns+"/runs/never-was", &run)).To(Equal(http.StatusNotFound))

		By("the in-cluster console calls the history API in process, with the signed-in person's token")
		pln, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		pass, err := console.NewPassThrough(cfg, console.Options{Listener: pln, Scheme: scheme, Engine: runner.New(runner.Options{}),
			History: console.HandlerHistory{Handler: api.NewServer(store, k8sClient, api.Options{})}})
		Expect(err).NotTo(HaveOccurred())
		go func() { _ = pass.Start(suiteCtx) }()
		passGet := func(token, path string) (int, string) {
			var code int
			var body []byte
			Eventually(func(g Gomega) {
				req, err := http.NewRequestWithContext(suiteCtx, http.MethodGet, "http://"+pln.Addr().String()+path, nil)
				g.Expect(err).NotTo(HaveOccurred())
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := http.DefaultClient.Do(req)
				g.Expect(err).NotTo(HaveOccurred())
				defer func() { _ = resp.Body.Close() }()
				body, err = io.ReadAll(resp.Body)
				g.Expect(err).NotTo(HaveOccurred())
				code = resp.StatusCode
			}).Should(Succeed())
			return code, string(body)
		}
		code, body := passGet(tr.Status.Token, "/api/namespaces/"+ns+"/runs/vip-routing-gone")
		Expect(code).To(Equal(http.StatusOK), body)
		Expect(body).To(ContainSubstring(`"archived":true`))
		code, body = passGet(tr.Status.Token, "/api/namespaces/"+ns+"/runs?workflow=vip-routing")
		Expect(code).To(Equal(http.StatusOK), body)
		Expect(body).To(ContainSubstring(`"name":"vip-routing-gone"`))

		By("someone who may not read runs there sees no archived run either")
		Expect(k8sClient.Create(suiteCtx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "stranger", Namespace: ns}})).To(Succeed())
		other, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(suiteCtx, "stranger", &authnv1.TokenRequest{
			Spec: authnv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		code, body = passGet(other.Status.Token, "/api/namespaces/"+ns+"/runs/vip-routing-gone")
		Expect(code).To(Equal(http.StatusForbidden), body)
		Expect(body).NotTo(ContainSubstring("notify-vip-team"))
	})
})
