//go:build !unit

package main

import (
	"path/filepath"
	"testing"

	. "github.com/onsi/gomega"
	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/test/testenv"
)

// readerServer is a real API server with crmflow's CRDs, started for one
// test, and a namespace "sales" that a reader ServiceAccount (get and list
// of workflows and runs, what the plugin's read commands need) may read.
type readerServer struct {
	cfg *rest.Config
	// admin is a client with every permission.
	admin client.Client
	// kubeconfig is a file that logs the plugin in as the reader, namespace
	// "sales"; it lies in dir, the test's temporary directory.
	kubeconfig, dir string
}

func startReaderServer(t *testing.T) readerServer {
	t.Helper()
	g := NewWithT(t)
	ctx := t.Context()
	testenv.SetEventuallyDefaults()
	env := testenv.New(filepath.Join("..", ".."))
	cfg, err := env.Start()
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = env.Stop() })
	scheme, err := testenv.Scheme()
	g.Expect(err).NotTo(HaveOccurred())
	admin, err := client.New(cfg, client.Options{Scheme: scheme})
	g.Expect(err).NotTo(HaveOccurred())

	g.Expect(admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "sales"}})).To(Succeed())
	g.Expect(admin.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "reader", Namespace: "sales"}})).To(Succeed())
	g.Expect(admin.Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "reader", Namespace: "sales"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"crmflow.io"}, Resources: []string{"workflows", "workflowruns"}, Verbs: []string{"get", "list"}}}})).To(Succeed())
	g.Expect(admin.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "reader", Namespace: "sales"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "reader"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "reader", Namespace: "sales"}}})).To(Succeed())
	cs, err := kubernetes.NewForConfig(cfg)
	g.Expect(err).NotTo(HaveOccurred())
	tr, err := cs.CoreV1().ServiceAccounts("sales").CreateToken(ctx, "reader", &authnv1.TokenRequest{
		Spec: authnv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["reader"] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	kc.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "reader", Namespace: "sales"}
	kc.CurrentContext = "envtest"
	g.Expect(clientcmd.WriteToFile(*kc, kubeconfig)).To(Succeed())
	return readerServer{cfg: cfg, admin: admin, kubeconfig: kubeconfig, dir: dir}
}
