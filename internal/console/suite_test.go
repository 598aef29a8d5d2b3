//go:build !unit

package console_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/controllers"
	"github.com/crmflow/crmflow/controllers/index"
	"github.com/crmflow/crmflow/controllers/intake"
	"github.com/crmflow/crmflow/controllers/workflow"
	"github.com/crmflow/crmflow/controllers/workflowrun"
	"github.com/crmflow/crmflow/internal/console"
	crmwebhook "github.com/crmflow/crmflow/internal/webhook"
	"github.com/crmflow/crmflow/runner"
	"github.com/crmflow/crmflow/runner/actions"
	"github.com/crmflow/crmflow/test/testenv"
)

// The suite runs the whole product on a real API server: envtest's
// kube-apiserver and etcd with RBAC, crmflow's admission webhook, the
// Workflow and WorkflowRun controllers, the CloudEvents receiver, a real
// HTTP server standing for the notification hook and the CRM sink, the
// console in both modes, and a real headless Chromium driven by chromedp.

const repoRoot = "../.."

var (
	suiteCtx    context.Context
	cancel      context.CancelFunc
	env         *envtest.Environment
	cfg         *rest.Config
	scheme      *runtime.Scheme
	k8sClient   client.Client
	hook        *hookTarget
	receiverURL string
	// localURL serves the console as `kubectl crmflow ui` does (the admin's identity).
	localURL string
	// passURL serves the console as the manager does (each person's own token).
	passURL   string
	browser   context.Context
	artifacts string
)

func TestConsole(t *testing.T) {
	RegisterFailHandler(Fail)
	testenv.SetEventuallyDefaults()
	RunSpecs(t, "console suite (real API server, real browser)")
}

var _ = BeforeSuite(func() {
	ctrl.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	_, err := os.Stat(filepath.Join(repoRoot, "internal", "console", "dist", "index.html"))
	Expect(err).NotTo(HaveOccurred(), "the console's web assets are not built: run `make console` (make test does)")

	artifacts = os.Getenv("CONSOLE_ARTIFACTS")
	if artifacts == "" {
		artifacts = filepath.Join(repoRoot, "test-artifacts", "console")
	}
	Expect(os.MkdirAll(artifacts, 0o755)).To(Succeed())

	suiteCtx, cancel = context.WithCancel(context.Background())
	scheme, err = testenv.Scheme()
	Expect(err).NotTo(HaveOccurred())
	env = testenv.New(repoRoot)
	env.WebhookInstallOptions = envtest.WebhookInstallOptions{
		Paths: []string{filepath.Join(repoRoot, "config", "webhook", "manifests.yaml")},
	}
	cfg, err = env.Start()
	Expect(err).NotTo(HaveOccurred())
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	hook = newHookTarget()
	startManager()
	startConsoles()
	browser = startBrowser()
})

var _ = AfterSuite(func() {
	if cancel != nil {
		cancel()
	}
	if hook != nil {
		hook.srv.Close()
	}
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
})

// startManager runs crmflow as main.go wires it: webhook, controllers and
// the CloudEvents receiver on 127.0.0.1.
func startManager() {
	wio := &env.WebhookInstallOptions
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  controllers.CacheOptions(),
		WebhookServer: webhook.NewServer(webhook.Options{
			Host: wio.LocalServingHost, Port: wio.LocalServingPort, CertDir: wio.LocalServingCertDir,
		}),
	})
	Expect(err).NotTo(HaveOccurred())
	Expect(index.Setup(suiteCtx, mgr.GetFieldIndexer())).To(Succeed())
	clk := clock.RealClock{}
	engine := runner.New(runner.Options{
		Executor:   actions.NewExecutor(actions.Config{Clock: clk, Egress: &actions.EgressPolicy{Allow: []string{"127.0.0.1"}}}),
		CRMSinkURL: hook.srv.URL + "/crm",
		MaxHops:    8,
	})
	m, err := controllers.NewMetrics(prometheus.NewRegistry())
	Expect(err).NotTo(HaveOccurred())
	shared := controllers.NewShared(mgr)
	Expect((&workflow.Reconciler{
		Revisions: shared.Revisions, Counters: shared.Counters,
		Client: mgr.GetClient(), Clock: clk, Metrics: m,
		Compile:  func(spec *v1alpha1.WorkflowSpec) error { _, err := engine.Compile(spec); return err },
		Recorder: mgr.GetEventRecorder("crmflow-workflow"),
	}).SetupWithManager(mgr)).To(Succeed())
	Expect((&workflowrun.Reconciler{
		Revisions: shared.Revisions, Counters: shared.Counters,
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Clock: clk, Engine: engine, Metrics: m,
		Secrets:  &controllers.SecretReader{Reader: mgr.GetAPIReader()},
		Recorder: mgr.GetEventRecorder("crmflow-workflowrun"),
	}).SetupWithManager(mgr)).To(Succeed())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	receiverURL = "http://" + ln.Addr().String()
	Expect(intake.Setup(mgr, intake.Options{Listener: ln, Engine: engine, Revisions: shared.Revisions, Clock: clk})).To(Succeed())
	Expect(crmwebhook.SetupWithManager(mgr, engine, crmwebhook.WithCRMSinkURL(hook.srv.URL+"/crm"))).To(Succeed())
	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(suiteCtx)).To(Succeed())
	}()
	addr := net.JoinHostPort(wio.LocalServingHost, fmt.Sprint(wio.LocalServingPort))
	Eventually(func() error {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // readiness probe only
		if err != nil {
			return err
		}
		return conn.Close()
	}).Should(Succeed())
}

// startConsoles serves the console twice: locally with the admin's
// identity, and in pass-through mode where every call carries the
// person's token.
func startConsoles() {
	engine := runner.New(runner.Options{CRMSinkURL: hook.srv.URL + "/crm"})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	localURL = "http://" + ln.Addr().String()
	local, err := console.NewLocal(k8sClient, console.Options{Listener: ln, Scheme: scheme, Engine: engine,
		DefaultNamespace: "default", AllowedHosts: []string{ln.Addr().String()}})
	Expect(err).NotTo(HaveOccurred())
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	passURL = "http://" + ln2.Addr().String()
	pass, err := console.NewPassThrough(cfg, console.Options{Listener: ln2, Scheme: scheme, Engine: engine})
	Expect(err).NotTo(HaveOccurred())
	for _, s := range []*console.Server{local, pass} {
		go func() {
			defer GinkgoRecover()
			Expect(s.Start(suiteCtx)).To(Succeed())
		}()
	}
	Eventually(func() error { return get(localURL + "/api/catalogue") }).Should(Succeed())
	Eventually(func() error { return get(passURL + "/api/session") }).Should(Succeed())
}

func get(url string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// startBrowser starts Debian's headless Chromium with a fresh profile.
func startBrowser() context.Context {
	profile, err := os.MkdirTemp("", "console-chromium-*")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = os.RemoveAll(profile) })
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 1000),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(suiteCtx, opts...)
	DeferCleanup(cancelAlloc)
	b, cancelBrowser := chromedp.NewContext(alloc)
	DeferCleanup(cancelBrowser)
	Expect(chromedp.Do(b)).To(Succeed(), "start Chromium")
	return b
}

func chromiumPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// newNamespace creates an empty namespace with the notification Secret the
// VIP workflow references (pointing at the hook target).
func newNamespace(prefix string) string {
	GinkgoHelper()
	ns := prefix + "-" + rand.String(5)
	Expect(k8sClient.Create(suiteCtx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
	Expect(k8sClient.Create(suiteCtx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "crmflow-notify", Namespace: ns},
		StringData: map[string]string{"vip-support-url": hook.srv.URL + "/notify/" + ns + "/vip"},
	})).To(Succeed())
	return ns
}

// hookTarget stands for the notification hook and the CRM sink: a real
// HTTP server that records what it received.
type hookTarget struct {
	srv  *httptest.Server
	mu   sync.Mutex
	hits []hookHit
}

type hookHit struct {
	Path string
	Body string
}

func newHookTarget() *hookTarget {
	h := &hookTarget{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.hits = append(h.hits, hookHit{Path: r.URL.Path, Body: string(body)})
		h.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	return h
}

// received returns the bodies posted to path.
func (h *hookTarget) received(path string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, x := range h.hits {
		if x.Path == path {
			out = append(out, x.Body)
		}
	}
	return out
}
