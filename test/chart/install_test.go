//go:build !unit

package chart

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/test/servers"
	"github.com/crmflow/crmflow/test/testenv"
)

// The install suite: helm install into a real API server with RBAC on, the
// manager binary running as the chart's ServiceAccount (a TokenRequest token
// in a kubeconfig), and the three seed examples end to end through its
// receiver, driven by the kubectl crmflow plugin.

const (
	releaseNS = "crmflow-system"
	appNS     = "shop"
	saName    = "crmflow"
)

func TestInstall(t *testing.T) {
	RegisterFailHandler(Fail)
	testenv.SetEventuallyDefaults()
	RunSpecs(t, "chart install suite")
}

var (
	ctx         context.Context
	cancel      context.CancelFunc
	env         *envtest.Environment
	admin       client.Client
	adminConfig string
	workDir     string
	plugin      string
	receiverURL string
	managerLog  *syncBuffer
	sink        *recorder
	hooks       *recorder
)

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, _ = GinkgoWriter.Write(p)
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// recorder is a real HTTP server on 127.0.0.1 that keeps what it received:
// the CRM sink (CloudEvents commands) and the notification webhook.
type recorder struct{ *servers.HTTP }

func newRecorder() *recorder {
	return &recorder{servers.NewHTTP(servers.Answer(http.StatusAccepted, ""))}
}

// received lists the requests as "<ce-type> <ce-subject> <body>".
func (r *recorder) received() []string {
	var out []string
	for _, req := range r.Requests() {
		out = append(out, req.Header.Get("ce-type")+" "+req.Header.Get("ce-subject")+" "+string(req.Body))
	}
	return out
}

// freeAddr returns a free 127.0.0.1 address.
func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	defer func() { _ = l.Close() }()
	return l.Addr().String()
}

// run executes a command and returns its combined output.
func run(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// writeKubeconfig writes a kubeconfig for cfg's server with the given credentials.
func writeKubeconfig(path string, cfg *rest.Config, token string, certData, keyData []byte) {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["user"] = &clientcmdapi.AuthInfo{Token: token, ClientCertificateData: certData, ClientKeyData: keyData}
	kc.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "user", Namespace: appNS}
	kc.CurrentContext = "envtest"
	Expect(clientcmd.WriteToFile(*kc, path)).To(Succeed())
}

var _ = BeforeSuite(func() {
	ctx, cancel = context.WithCancel(context.Background())
	var err error
	workDir, err = os.MkdirTemp("", "crmflow-chart-install-")
	Expect(err).NotTo(HaveOccurred())
	absRoot, err := filepath.Abs(root)
	Expect(err).NotTo(HaveOccurred())

	By("building the manager and the kubectl plugin")
	manager := filepath.Join(workDir, "manager")
	plugin = filepath.Join(workDir, "kubectl-crmflow")
	for bin, pkg := range map[string]string{manager: ".", plugin: "./cmd/kubectl-crmflow"} {
		cmd := exec.Command("go", "build", "-o", bin, pkg)
		cmd.Dir = absRoot
		out, err := cmd.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "go build %s: %s", pkg, out)
	}

	By("starting an API server with RBAC authorization")
	env = testenv.New(root)
	env.ControlPlane.GetAPIServer().Configure().Set("authorization-mode", "RBAC")
	cfg, err := env.Start()
	Expect(err).NotTo(HaveOccurred())
	scheme, err := testenv.Scheme()
	Expect(err).NotTo(HaveOccurred())
	admin, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	user, err := env.AddUser(envtest.User{Name: "platform-admin", Groups: []string{"system:masters"}}, nil)
	Expect(err).NotTo(HaveOccurred())
	adminConfig = filepath.Join(workDir, "admin.kubeconfig")
	ucfg := user.Config()
	writeKubeconfig(adminConfig, ucfg, "", ucfg.CertData, ucfg.KeyData)

	By("giving the cluster a default StorageClass, as real clusters have, for the history's claim")
	Expect(admin.Create(ctx, &storagev1.StorageClass{
		ObjectMeta:  metav1.ObjectMeta{Name: defaultStorageClass, Annotations: map[string]string{defaultClassAnnotation: "true"}},
		Provisioner: "example.com/none",
	})).To(Succeed())

	By("helm install (webhooks off: nothing routes a Service to this process)")
	out, err := run(helmBinary(GinkgoT()), "install", "crmflow", chartDir, "--kubeconfig", adminConfig,
		"--namespace", releaseNS, "--create-namespace", "--skip-crds", "--set", "webhook.enabled=false")
	Expect(err).NotTo(HaveOccurred(), out)

	By("minting a token for the chart's ServiceAccount with the TokenRequest API")
	cs, err := kubernetes.NewForConfig(cfg)
	Expect(err).NotTo(HaveOccurred())
	tr, err := cs.CoreV1().ServiceAccounts(releaseNS).CreateToken(ctx, saName, &authnv1.TokenRequest{
		Spec: authnv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)},
	}, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	saConfig := filepath.Join(workDir, "serviceaccount.kubeconfig")
	writeKubeconfig(saConfig, cfg, tr.Status.Token, nil, nil)

	By("preparing the application namespace, its notification Secret and the CRM sink")
	sink, hooks = newRecorder(), newRecorder()
	Expect(admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: appNS}})).To(Succeed())
	Expect(admin.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "crmflow-notify", Namespace: appNS},
		StringData: map[string]string{"vip-support-url": hooks.URL + "/vip", "support-url": hooks.URL + "/support"},
	})).To(Succeed())

	By("running the manager as the ServiceAccount, with the chart's arguments")
	var dep struct {
		Spec struct {
			Template struct {
				Spec corev1.PodSpec `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
	}
	manifest, err := run(helmBinary(GinkgoT()), "get", "manifest", "crmflow", "-n", releaseNS, "--kubeconfig", adminConfig)
	Expect(err).NotTo(HaveOccurred(), manifest)
	for _, doc := range strings.Split(manifest, "\n---") {
		if strings.Contains(doc, "kind: Deployment") {
			Expect(yaml.Unmarshal([]byte(doc), &dep)).To(Succeed())
		}
	}
	args := dep.Spec.Template.Spec.Containers[0].Args
	Expect(args).NotTo(BeEmpty())
	receiverAddr, probeAddr := freeAddr(), freeAddr()
	var managerArgs []string
	for _, a := range args {
		switch {
		case strings.HasPrefix(a, "--receiver-bind-address="):
			a = "--receiver-bind-address=" + receiverAddr
		case strings.HasPrefix(a, "--health-probe-bind-address="):
			a = "--health-probe-bind-address=" + probeAddr
		case strings.HasPrefix(a, "--metrics-bind-address="):
			a = "--metrics-bind-address=" + freeAddr()
		}
		managerArgs = append(managerArgs, a)
	}
	// Out of a pod the manager cannot read its namespace from the
	// ServiceAccount mount; name it so leader election uses the chart's Role.
	// The sink and hooks listen on 127.0.0.1, which the egress policy refuses unless allowed.
	managerArgs = append(managerArgs, "--leader-election-namespace="+releaseNS, "--crm-sink-url="+sink.URL, "--egress-allow=127.0.0.1",
		"--history-dsn="+filepath.Join(GinkgoT().TempDir(), "history.db"), "--history-bind-address="+freeAddr())
	managerLog = &syncBuffer{}
	cmd := exec.CommandContext(ctx, manager, managerArgs...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+saConfig)
	cmd.Stdout, cmd.Stderr = managerLog, managerLog
	Expect(cmd.Start()).To(Succeed())
	DeferCleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	receiverURL = "http://" + receiverAddr
	Eventually(func() (int, error) {
		resp, err := http.Get("http://" + probeAddr + "/readyz")
		if err != nil {
			return 0, err
		}
		_ = resp.Body.Close()
		return resp.StatusCode, nil
	}).WithTimeout(60*time.Second).WithPolling(500*time.Millisecond).Should(Equal(http.StatusOK), func() string { return managerLog.String() })
})

var _ = AfterSuite(func() {
	cancel()
	if sink != nil {
		sink.Close()
		hooks.Close()
	}
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
	if workDir != "" {
		_ = os.RemoveAll(workDir)
	}
})

// kubectlCrmflow runs the plugin with the admin's kubeconfig.
func kubectlCrmflow(args ...string) string {
	out, err := run(plugin, append([]string{"--kubeconfig", adminConfig, "-n", appNS}, args...)...)
	Expect(err).NotTo(HaveOccurred(), out)
	return out
}

// kubectl runs the control plane's kubectl as the cluster admin in the application namespace.
func kubectl(args ...string) string {
	bin := filepath.Join(testenv.AssetsDir(root), "kubectl")
	out, err := run(bin, append([]string{"--kubeconfig", adminConfig, "-n", appNS}, args...)...)
	Expect(err).NotTo(HaveOccurred(), out)
	return out
}

// applySample creates a sample workflow in the application namespace.
func applySample(name string) {
	raw, err := os.ReadFile(filepath.Join(root, "config", "samples", "crmflow_v1alpha1_"+name+".yaml"))
	Expect(err).NotTo(HaveOccurred())
	var wf v1alpha1.Workflow
	Expect(yaml.UnmarshalStrict(raw, &wf)).To(Succeed())
	wf.Namespace = appNS
	Expect(admin.Create(ctx, &wf)).To(Succeed())
	Eventually(func(g Gomega) {
		g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(&wf), &wf)).To(Succeed())
		g.Expect(wf.Status.Conditions).To(ContainElement(And(
			HaveField("Type", v1alpha1.WorkflowReady), HaveField("Status", metav1.ConditionTrue))))
	}).WithTimeout(30 * time.Second).Should(Succeed())
}

// runOf waits for the one run of workflow and returns it once it is in phase.
func runOf(workflow string, phase v1alpha1.RunPhase) v1alpha1.WorkflowRun {
	var found v1alpha1.WorkflowRun
	Eventually(func(g Gomega) {
		var runs v1alpha1.WorkflowRunList
		g.Expect(admin.List(ctx, &runs, client.InNamespace(appNS), client.MatchingLabels{v1alpha1.LabelWorkflow: workflow})).To(Succeed())
		g.Expect(runs.Items).To(HaveLen(1))
		found = runs.Items[0]
		g.Expect(found.Status.Phase).To(Equal(phase), "run %s: %s", found.Name, found.Status.Message)
	}).WithTimeout(45*time.Second).WithPolling(250*time.Millisecond).Should(Succeed(), func() string { return managerLog.String() })
	return found
}

var _ = Describe("the chart's RBAC, under the manager's real identity", Ordered, func() {
	It("runs VIP routing end to end", func() {
		applySample("vip-routing")
		out := kubectlCrmflow("send", "--url", receiverURL, "--type", "conversation.started", "--source", "crm.example.com",
			"--subject", "c-42", "--id", "vip-1",
			"--data", `{"conversation":{"id":"conv-1","contactId":"c-42","channel":"chat"},"contact":{"id":"c-42","firstName":"Ann","lastName":"Lee","tags":["VIP"]}}`)
		Expect(out).To(ContainSubstring(" -> 2"))
		r := runOf("vip-routing", v1alpha1.RunSucceeded)
		Expect(hooks.received()).To(ContainElement(ContainSubstring("VIP Ann Lee started a conversation on chat")))
		Expect(sink.received()).To(ContainElement(HavePrefix("io.crmflow.contact.tags.add c-42")))
		Expect(sink.received()).To(ContainElement(HavePrefix("io.crmflow.contact.update c-42")))

		history := kubectlCrmflow("history", r.Name)
		Expect(history).To(ContainSubstring("Outcome:    Succeeded"))
		Expect(history).To(MatchRegexp(`notify-vip-team\s+Succeeded`))
		Expect(kubectlCrmflow("runs", "vip-routing")).To(MatchRegexp(r.Name + `\s+c-42\s+Succeeded`))

		By("kubectl get, wait and describe read the run at a glance and as an execution log")
		get := kubectl("get", "workflowruns")
		Expect(get).To(MatchRegexp(`NAME\s+WORKFLOW\s+SUBJECT\s+PHASE\s+STEP\s+RESULT\s+AGE`))
		Expect(get).To(MatchRegexp(r.Name + `\s+vip-routing\s+c-42\s+Succeeded`))
		Expect(kubectl("get", "crmwf", "vip-routing")).To(MatchRegexp(`vip-routing\s+Active\s+True`))
		Expect(kubectl("wait", "--for=condition=Succeeded", "workflowrun/"+r.Name, "--timeout=30s")).
			To(ContainSubstring("condition met"))
		describe := kubectl("describe", "workflowrun", r.Name)
		for _, line := range []string{"Condition Results:", "contact-is-vip", "Reason:                Completed",
			"Idempotency Key:  " + string(r.UID) + "/notify-vip-team", "Attempts:", "Finish Time:",
			"sent io.crmflow.contact.tags.add for c-42", "ConditionsMet"} {
			Expect(describe).To(ContainSubstring(line))
		}
	})

	It("runs negative sentiment end to end", func() {
		applySample("negative-sentiment")
		kubectlCrmflow("send", "--url", receiverURL, "--type", "message.received", "--source", "crm.example.com",
			"--subject", "c-9", "--id", "msg-1",
			"--data", `{"message":{"id":"m-1","contactId":"c-9","text":"late again","sentiment":{"score":0.1}},"contact":{"id":"c-9","firstName":"Cy","lastName":"Dahl"}}`)
		runOf("negative-sentiment", v1alpha1.RunSucceeded)
		Expect(sink.received()).To(ContainElement(HavePrefix("io.crmflow.ticket.create")))
		Expect(sink.received()).To(ContainElement(And(HavePrefix("io.crmflow.contact.tags.add c-9"), ContainSubstring("Needs_Attention"))))
		Expect(hooks.received()).To(ContainElement(ContainSubstring("Negative message from Cy")))
	})

	It("runs lead follow-up until its goal ends it", func() {
		applySample("lead-follow-up")
		kubectlCrmflow("send", "--url", receiverURL, "--type", "lead.created", "--source", "crm.example.com",
			"--subject", "c-7", "--id", "lead-1",
			"--data", `{"lead":{"id":"l-1","source":"Website","contactId":"c-7","status":"New"},"contact":{"id":"c-7","firstName":"Bo","email":"bo@example.com"}}`)
		waiting := runOf("lead-follow-up", v1alpha1.RunWaiting)
		Expect(waiting.Status.CurrentStep).To(Equal("settle"))
		// The lead is won during the first hour: the exitWhen goal ends the run.
		kubectlCrmflow("send", "--url", receiverURL, "--type", "lead.status.changed", "--source", "crm.example.com",
			"--subject", "c-7", "--id", "lead-1-won",
			"--data", `{"lead":{"id":"l-1","contactId":"c-7","status":"Won"},"contact":{"id":"c-7"}}`)
		done := runOf("lead-follow-up", v1alpha1.RunSucceeded)
		Expect(done.Status.Result).To(Equal(v1alpha1.ReasonGoalReached))
	})

	It("needed no permission the chart does not grant", func() {
		Expect(strings.ToLower(managerLog.String())).NotTo(ContainSubstring("forbidden"))
	})

	It("grants nothing beyond the README's list", func() {
		sa := "system:serviceaccount:" + releaseNS + ":" + saName
		cs, err := kubernetes.NewForConfig(env.Config)
		Expect(err).NotTo(HaveOccurred())
		for _, attr := range []authzv1.ResourceAttributes{
			{Namespace: appNS, Verb: "list", Resource: "pods"},
			{Namespace: appNS, Verb: "create", Resource: "secrets"},
			{Namespace: appNS, Verb: "update", Group: "crmflow.io", Resource: "workflows"},
			{Namespace: appNS, Verb: "get", Resource: "configmaps"},
			{Verb: "update", Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"},
			{Verb: "create", Group: "admissionregistration.k8s.io", Resource: "validatingwebhookconfigurations"},
		} {
			review, err := cs.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authzv1.SubjectAccessReview{
				Spec: authzv1.SubjectAccessReviewSpec{User: sa, Groups: []string{"system:serviceaccounts"}, ResourceAttributes: &attr},
			}, metav1.CreateOptions{})
			Expect(err).NotTo(HaveOccurred())
			Expect(review.Status.Allowed).To(BeFalse(), fmt.Sprintf("%s %s/%s must not be allowed", attr.Verb, attr.Group, attr.Resource))
		}
	})

	It("sends the manager's own runs past the run webhook, and nobody else's", func() {
		// The chart's run webhook, as rendered with webhooks on, but pointing
		// at a port where nothing listens: with failurePolicy Fail, a create
		// that calls it fails, so a create that succeeds did not call it.
		var vwc admissionv1.ValidatingWebhookConfiguration
		renderChart(GinkgoTB(), "--set", "webhook.enabled=true").get(GinkgoTB(), "ValidatingWebhookConfiguration", "", &vwc)
		var runHook *admissionv1.ValidatingWebhook
		for i := range vwc.Webhooks {
			if vwc.Webhooks[i].Name == "vworkflowrun-v1alpha1.crmflow.io" {
				runHook = &vwc.Webhooks[i]
			}
		}
		Expect(runHook).NotTo(BeNil(), "the chart has no run webhook")
		Expect(*runHook.FailurePolicy).To(Equal(admissionv1.Fail))
		unreachable := "https://127.0.0.1:1/validate-crmflow-io-v1alpha1-workflowrun"
		runHook.ClientConfig = admissionv1.WebhookClientConfig{URL: &unreachable}
		timeout := int32(2)
		runHook.TimeoutSeconds = &timeout
		hook := &admissionv1.ValidatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: "crmflow-run-webhook-probe"},
			Webhooks:   []admissionv1.ValidatingWebhook{*runHook},
		}
		Expect(admin.Create(ctx, hook)).To(Succeed(), "the API server refused the chart's matchConditions")
		DeferCleanup(func() { Expect(admin.Delete(ctx, hook)).To(Succeed()) })

		By("a run the cluster admin creates calls the webhook (and fails, as nothing answers)")
		Eventually(func(g Gomega) {
			byHand := &v1alpha1.WorkflowRun{
				ObjectMeta: metav1.ObjectMeta{GenerateName: "by-hand-", Namespace: appNS},
				Spec:       v1alpha1.WorkflowRunSpec{WorkflowName: "vip-routing", Subject: "c-hand", DryRun: true},
			}
			err := admin.Create(ctx, byHand)
			if err == nil {
				_ = admin.Delete(ctx, byHand)
			}
			g.Expect(err).To(MatchError(ContainSubstring(`failed calling webhook "vworkflowrun-v1alpha1.crmflow.io"`)))
		}).WithTimeout(30 * time.Second).Should(Succeed())

		By("an enrolment, which the manager creates as its ServiceAccount, does not")
		kubectlCrmflow("send", "--url", receiverURL, "--type", "conversation.started", "--source", "crm.example.com",
			"--subject", "c-77", "--id", "vip-webhook-probe",
			"--data", `{"conversation":{"id":"conv-77","contactId":"c-77","channel":"chat"},"contact":{"id":"c-77","firstName":"Di","lastName":"Wu","tags":["VIP"]}}`)
		Eventually(func(g Gomega) {
			var runs v1alpha1.WorkflowRunList
			g.Expect(admin.List(ctx, &runs, client.InNamespace(appNS), client.MatchingLabels{v1alpha1.LabelWorkflow: "vip-routing"})).To(Succeed())
			var phases []v1alpha1.RunPhase
			for _, r := range runs.Items {
				if r.Spec.Subject == "c-77" {
					phases = append(phases, r.Status.Phase)
				}
			}
			g.Expect(phases).To(Equal([]v1alpha1.RunPhase{v1alpha1.RunSucceeded}))
		}).WithTimeout(45*time.Second).Should(Succeed(), func() string { return managerLog.String() })
	})
})
