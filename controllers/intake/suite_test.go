//go:build !unit

package intake_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/crmflow/crmflow/controllers"
	"github.com/crmflow/crmflow/controllers/index"
	"github.com/crmflow/crmflow/controllers/intake"
	"github.com/crmflow/crmflow/runner"
	"github.com/crmflow/crmflow/test/testenv"
)

// The suite runs the real receiver in a real manager against the envtest
// API server. The manager reaches the API server through a TCP proxy the
// tests can cut, to take the API server away mid-test; assertions use a
// direct client.
var (
	ctx       context.Context
	cancel    context.CancelFunc
	env       *envtest.Environment
	k8sClient client.Client
	proxy     *apiProxy
	baseURL   string
	httpc     = &http.Client{Timeout: 30 * time.Second}
	// skipLog collects what the receiver hands Options.SkipLog (the run history's input).
	skipLog = &skippedEvents{}
)

// skippedEvents is a concurrency-safe list of the skipped events logged.
type skippedEvents struct {
	mu     sync.Mutex
	events []intake.SkippedEvent
}

func (s *skippedEvents) add(_ context.Context, evs []intake.SkippedEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, evs...)
}

func (s *skippedEvents) of(namespace string) []intake.SkippedEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []intake.SkippedEvent
	for i := range s.events {
		e := &s.events[i]
		if e.Namespace == namespace {
			out = append(out, *e)
		}
	}
	return out
}

func TestIntake(t *testing.T) {
	RegisterFailHandler(Fail)
	testenv.SetEventuallyDefaults()
	RunSpecs(t, "Intake suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	ctx, cancel = context.WithCancel(context.Background())
	scheme, err := testenv.Scheme()
	Expect(err).NotTo(HaveOccurred())

	env = testenv.New(filepath.Join("..", ".."))
	cfg, err := env.Start()
	Expect(err).NotTo(HaveOccurred())
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	proxy, err = startProxy(cfg.Host)
	Expect(err).NotTo(HaveOccurred())
	viaProxy := rest.CopyConfig(cfg)
	viaProxy.Host = "https://" + proxy.Addr()
	viaProxy.Timeout = 5 * time.Second

	mgr, err := ctrl.NewManager(viaProxy, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  controllers.CacheOptions(),
	})
	Expect(err).NotTo(HaveOccurred())
	Expect(index.Setup(ctx, mgr.GetFieldIndexer())).To(Succeed())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	baseURL = "http://" + ln.Addr().String()
	Expect(intake.Setup(mgr, intake.Options{
		Listener:       ln,
		Engine:         runner.New(runner.Options{}),
		RequestTimeout: 3 * time.Second,
		RetryAfter:     time.Second,
		FlushInterval:  200 * time.Millisecond,
		EventInterval:  time.Second,
		SkipLog:        skipLog.add,
	})).To(Succeed())
	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
	Eventually(func() (int, error) {
		resp, err := httpc.Get(baseURL + "/readyz")
		if err != nil {
			return 0, err
		}
		_ = resp.Body.Close()
		return resp.StatusCode, nil
	}).WithTimeout(60 * time.Second).Should(Equal(http.StatusOK))
})

var _ = AfterSuite(func() {
	if cancel != nil {
		cancel()
	}
	if proxy != nil {
		proxy.Close()
	}
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
})

// nsCounter makes each spec's namespace unique.
var nsCounter int

func newNamespaceName(prefix string) string {
	nsCounter++
	return fmt.Sprintf("%s-%d", prefix, nsCounter)
}
