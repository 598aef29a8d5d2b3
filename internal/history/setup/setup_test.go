//go:build !unit

package setup_test

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/internal/history"
	"github.com/crmflow/crmflow/internal/history/setup"
	"github.com/crmflow/crmflow/test/testenv"
)

// TestSetupArchivesAndServes wires the history into a manager as main.go
// does: a finished run leaves etcd and is then served by the HTTPS API to a
// user allowed to list runs in its namespace.
func TestSetupArchivesAndServes(t *testing.T) {
	g := NewWithT(t)
	testenv.SetEventuallyDefaults()
	ctx := t.Context()
	env := testenv.New(filepath.Join("..", "..", ".."))
	env.ControlPlane.GetAPIServer().Configure().Set("authorization-mode", "RBAC")
	cfg, err := env.Start()
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = env.Stop() })
	scheme, err := testenv.Scheme()
	g.Expect(err).NotTo(HaveOccurred())
	admin, err := client.New(cfg, client.Options{Scheme: scheme})
	g.Expect(err).NotTo(HaveOccurred())

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0"})
	g.Expect(err).NotTo(HaveOccurred())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	g.Expect(err).NotTo(HaveOccurred())
	addr := l.Addr().String()
	g.Expect(l.Close()).To(Succeed())
	store, err := setup.Setup(ctx, mgr, prometheus.NewRegistry(), clock.RealClock{}, setup.Config{
		DSN: filepath.Join(t.TempDir(), "history.db"), BindAddress: addr, Grace: -1, CleanupInterval: 200 * time.Millisecond,
	})
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = store.Close() })
	go func() { _ = mgr.Start(ctx) }()

	g.Expect(admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "sales"}})).To(Succeed())
	run := &v1alpha1.WorkflowRun{
		ObjectMeta: metav1.ObjectMeta{Name: "vip-1", Namespace: "sales"},
		Spec:       v1alpha1.WorkflowRunSpec{WorkflowName: "vip-routing", WorkflowRevision: "vip-routing-5d8f", Subject: "c-42"},
	}
	g.Expect(admin.Create(ctx, run)).To(Succeed())
	now := metav1.Now()
	run.Status = v1alpha1.WorkflowRunStatus{Phase: v1alpha1.RunSucceeded, StartTime: &now, CompletionTime: &now, Result: v1alpha1.ReasonCompleted,
		RemoveAfter: v1alpha1.RemoveAfterValue(now.Add(-time.Minute))} // due: its minute has passed
	g.Expect(admin.Status().Update(ctx, run)).To(Succeed())
	g.Eventually(func() bool {
		err := admin.Get(ctx, client.ObjectKeyFromObject(run), &v1alpha1.WorkflowRun{})
		return err != nil && client.IgnoreNotFound(err) == nil
	}).WithTimeout(20*time.Second).Should(BeTrue(), "the run leaves etcd once stored")

	g.Expect(admin.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "reader", Namespace: "sales"}})).To(Succeed())
	g.Expect(admin.Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "run-reader", Namespace: "sales"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"crmflow.io"}, Resources: []string{"workflowruns"}, Verbs: []string{"list"}}}})).To(Succeed())
	g.Expect(admin.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "reader", Namespace: "sales"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "run-reader"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "reader", Namespace: "sales"}}})).To(Succeed())
	cs, err := kubernetes.NewForConfig(cfg)
	g.Expect(err).NotTo(HaveOccurred())
	tr, err := cs.CoreV1().ServiceAccounts("sales").CreateToken(ctx, "reader", &authnv1.TokenRequest{
		Spec: authnv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
	g.Expect(err).NotTo(HaveOccurred())

	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // the API's self-signed certificate
	g.Eventually(func(g Gomega) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+"/api/v1/namespaces/sales/runs/vip-1", nil)
		g.Expect(err).NotTo(HaveOccurred())
		req.Header.Set("Authorization", "Bearer "+tr.Status.Token)
		resp, err := c.Do(req)
		g.Expect(err).NotTo(HaveOccurred())
		defer func() { _ = resp.Body.Close() }()
		body, _ := io.ReadAll(resp.Body)
		g.Expect(resp.StatusCode).To(Equal(http.StatusOK), string(body))
		var got history.Run
		g.Expect(json.Unmarshal(body, &got)).To(Succeed())
		g.Expect(got.UID).To(Equal(string(run.UID)))
	}).Should(Succeed())
}
