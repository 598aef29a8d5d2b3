//go:build !unit

package archiver_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/crmflow/crmflow/controllers/workflowrun"
	clocktesting "k8s.io/utils/clock/testing"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/internal/history"
	"github.com/crmflow/crmflow/internal/history/archiver"
	"github.com/crmflow/crmflow/internal/history/pgserver"
	"github.com/crmflow/crmflow/test/testenv"
)

var (
	env    *envtest.Environment
	cfg    *rest.Config
	k8s    client.Client
	scheme *runtime.Scheme
	pg     *pgserver.Server
)

func TestMain(m *testing.M) {
	// The SIGKILL test runs this binary again as a manager that dies right
	// after its first store write.
	if os.Getenv(childEnv) != "" {
		if err := runChild(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestArchiver(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "history archiver")
}

var _ = BeforeSuite(func() {
	testenv.SetEventuallyDefaults()
	var err error
	scheme, err = testenv.Scheme()
	Expect(err).NotTo(HaveOccurred())
	env = testenv.New(filepath.Join("..", "..", ".."))
	cfg, err = env.Start()
	Expect(err).NotTo(HaveOccurred())
	k8s, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	Expect(k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "sales"}})).To(Succeed())

	pg, err = pgserver.Start(context.Background(), pgserver.Options{})
	if errors.Is(err, pgserver.ErrNotInstalled) && os.Getenv("CI") == "" {
		pg = nil
		GinkgoWriter.Println("PostgreSQL not installed locally: the store-outage spec is skipped")
		return
	}
	Expect(err).NotTo(HaveOccurred())
})

var _ = AfterSuite(func() {
	if pg != nil {
		Expect(pg.Remove()).To(Succeed())
	}
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
})

// startArchiver runs a manager with only the archiver over store, until the
// spec ends; it returns the archiver's metrics registry.
func startArchiver(store history.Store, grace time.Duration) *prometheus.Registry {
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	Expect(err).NotTo(HaveOccurred())
	reg := prometheus.NewRegistry()
	m, err := archiver.NewMetrics(reg)
	Expect(err).NotTo(HaveOccurred())
	a := &archiver.Archiver{
		Client: mgr.GetClient(), Store: store, Clock: clock.RealClock{}, Metrics: m, Grace: grace,
		Recorder: mgr.GetEventRecorder("history-archiver"), RetryBase: 100 * time.Millisecond, RetryMax: time.Second,
	}
	Expect(a.SetupWithManager(mgr)).To(Succeed())
	addCleaner(mgr, a)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	DeferCleanup(func() {
		cancel()
		Eventually(done).Should(Receive(BeNil()))
	})
	return reg
}

// addCleaner adds the RunCleaner the manager runs beside the archiver, with a
// clock a few minutes ahead so every finished run's minute is due at once.
func addCleaner(mgr ctrl.Manager, a *archiver.Archiver) {
	ahead := clocktesting.NewFakePassiveClock(time.Now().Add(5 * time.Minute))
	Expect(mgr.Add(&workflowrun.RunCleaner{Client: mgr.GetClient(), Clock: ahead, Interval: 200 * time.Millisecond,
		Archived: a.Archived, Removed: a.Forget})).To(Succeed())
}

// finishedRun creates a run and writes the status it finished with.
func finishedRun(ctx context.Context, name string, phase v1alpha1.RunPhase, dryRun bool) *v1alpha1.WorkflowRun {
	run := &v1alpha1.WorkflowRun{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "sales", Labels: map[string]string{v1alpha1.LabelWorkflow: "vip-routing"}},
		Spec: v1alpha1.WorkflowRunSpec{
			WorkflowName: "vip-routing", WorkflowRevision: "vip-routing-5d8f", Subject: "c-42", DryRun: dryRun,
			Event: &v1alpha1.CloudEvent{ID: "ev-" + name, Source: "crm", Type: "conversation.started", Subject: "c-42"},
		},
	}
	Expect(k8s.Create(ctx, run)).To(Succeed())
	if phase != "" {
		now := metav1.Now()
		run.Status = v1alpha1.WorkflowRunStatus{
			Phase: phase, StartTime: &now, CompletionTime: &now, Result: v1alpha1.ReasonCompleted,
			RemoveAfter:      v1alpha1.RemoveAfterValue(now.Time),
			ConditionResults: []v1alpha1.ConditionResult{{Name: "vip", Result: true, Message: "tagged VIP"}},
			Steps:            []v1alpha1.StepStatus{{Name: "settle", Phase: v1alpha1.StepSucceeded, StartTime: &now, FinishTime: &now}},
		}
		Expect(k8s.Status().Update(ctx, run)).To(Succeed())
	}
	return run
}

func gone(ctx context.Context, run *v1alpha1.WorkflowRun) func() bool {
	return func() bool {
		err := k8s.Get(ctx, client.ObjectKeyFromObject(run), &v1alpha1.WorkflowRun{})
		return client.IgnoreNotFound(err) == nil && err != nil
	}
}

// storedUIDs lists every stored run of vip-routing, with repeats if any.
func storedUIDs(ctx context.Context, s history.Store) []string {
	var uids []string
	q := history.RunQuery{Namespace: "sales", Workflow: "vip-routing", Limit: history.MaxLimit}
	for {
		page, err := s.ListRuns(ctx, q)
		Expect(err).NotTo(HaveOccurred())
		for i := range page.Runs {
			r := &page.Runs[i]
			uids = append(uids, r.UID)
		}
		if page.Next == "" {
			return uids
		}
		q.Cursor = page.Next
	}
}

func writeKubeconfig(path string, c *rest.Config) {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: c.Host, CertificateAuthorityData: c.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: c.CertData, ClientKeyData: c.KeyData, Token: c.BearerToken}
	kc.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "admin"}
	kc.CurrentContext = "envtest"
	Expect(clientcmd.WriteToFile(*kc, path)).To(Succeed())
}

func historyQuery(workflow string) history.RunQuery {
	return history.RunQuery{Namespace: "sales", Workflow: workflow, Limit: history.MaxLimit}
}
