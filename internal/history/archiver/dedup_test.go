//go:build !unit

package archiver_test

import (
	"context"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/controllers"
	"github.com/crmflow/crmflow/controllers/index"
	"github.com/crmflow/crmflow/controllers/workflow"
	"github.com/crmflow/crmflow/controllers/workflowrun"
	"github.com/crmflow/crmflow/internal/history/archiver"
	"github.com/crmflow/crmflow/internal/history/sqlstore"
	"github.com/crmflow/crmflow/runner"
	"github.com/crmflow/crmflow/runner/actions"
)

// The DESIGN's promise that deduplication does not depend on history: with
// the manager wired as main.go wires it with a history store, a redelivered
// event whose run was archived and left etcd does not enroll again.
var _ = Describe("deduplication of archived runs", func() {
	It("refuses a second run of an event whose first run is archived and gone from etcd", func(ctx SpecContext) {
		store, err := sqlstore.Open(ctx, filepath.Join(GinkgoT().TempDir(), "history.db"), sqlstore.Options{})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(store.Close)

		mgr, err := ctrl.NewManager(cfg, ctrl.Options{
			Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
			Cache: controllers.CacheOptions(), Controller: config.Controller{SkipNameValidation: ptr.To(true)},
		})
		Expect(err).NotTo(HaveOccurred())
		mctx, cancel := context.WithCancel(context.Background())
		Expect(index.Setup(mctx, mgr.GetFieldIndexer())).To(Succeed())
		engine := runner.New(runner.Options{Executor: actions.NewExecutor(actions.Config{Clock: clock.RealClock{}}), MaxHops: 8})
		m, err := controllers.NewMetrics(prometheus.NewRegistry())
		Expect(err).NotTo(HaveOccurred())
		shared := controllers.NewShared(mgr)
		Expect((&workflow.Reconciler{
			Client: mgr.GetClient(), Clock: clock.RealClock{}, Revisions: shared.Revisions, Counters: shared.Counters,
			Compile: func(spec *v1alpha1.WorkflowSpec) error {
				return engine.Validate(spec, field.NewPath("spec")).ToAggregate()
			},
			Recorder: mgr.GetEventRecorder("crmflow-workflow"), Metrics: m, FinishedRunsArchived: true,
		}).SetupWithManager(mgr)).To(Succeed())
		Expect((&workflowrun.Reconciler{
			Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Clock: clock.RealClock{}, Engine: engine,
			Revisions: shared.Revisions, Counters: shared.Counters, Secrets: &controllers.SecretReader{Reader: mgr.GetAPIReader()},
			Recorder: mgr.GetEventRecorder("crmflow-workflowrun"), Metrics: m, Dedup: store, FinishedRunsArchived: true,
		}).SetupWithManager(mgr)).To(Succeed())
		a := &archiver.Archiver{Client: mgr.GetClient(), Store: store, Clock: clock.RealClock{}, Grace: -1}
		Expect(a.SetupWithManager(mgr)).To(Succeed())
		addCleaner(mgr, a)
		done := make(chan error, 1)
		go func() { done <- mgr.Start(mctx) }()
		DeferCleanup(func() { cancel(); Eventually(done).Should(Receive(BeNil())) })

		wf := &v1alpha1.Workflow{
			ObjectMeta: metav1.ObjectMeta{Name: "instant", Namespace: "sales"},
			Spec: v1alpha1.WorkflowSpec{
				State:   v1alpha1.WorkflowActive,
				Trigger: v1alpha1.Trigger{Event: &v1alpha1.EventTrigger{Types: []v1alpha1.EventType{"conversation.started"}}},
				Steps:   []v1alpha1.Step{{Name: "done", End: &v1alpha1.EndAction{}}},
			},
		}
		Expect(k8s.Create(ctx, wf)).To(Succeed())
		newRun := func() *v1alpha1.WorkflowRun {
			return &v1alpha1.WorkflowRun{
				ObjectMeta: metav1.ObjectMeta{Name: "instant-ev-42", Namespace: "sales", Labels: map[string]string{v1alpha1.LabelWorkflow: "instant"}},
				Spec: v1alpha1.WorkflowRunSpec{WorkflowName: "instant", Subject: "c-42",
					Event: &v1alpha1.CloudEvent{ID: "ev-42", Source: "crm", Type: "conversation.started", Subject: "c-42"}},
			}
		}

		By("running the first delivery to the end; the archiver stores it and deletes it")
		first := newRun()
		Expect(k8s.Create(ctx, first)).To(Succeed())
		Eventually(gone(ctx, first), "30s").Should(BeTrue())
		stored, err := store.GetRun(ctx, "sales", first.Name)
		Expect(err).NotTo(HaveOccurred())
		Expect(stored.UID).To(Equal(string(first.UID)))
		Expect(stored.Phase).To(Equal(string(v1alpha1.RunSucceeded)))

		By("redelivering the event: the run is created again, and refused")
		again := newRun()
		Expect(k8s.Create(ctx, again)).To(Succeed(), "nothing in etcd holds the name any more")
		Eventually(func(g Gomega) {
			r, err := store.GetRun(ctx, "sales", again.Name)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(r.UID).To(Equal(string(again.UID)), "the refused run is archived too")
			g.Expect(r.Phase).To(Equal(string(v1alpha1.RunCancelled)))
			g.Expect(r.Message).To(ContainSubstring("archived"))
			g.Expect(r.Steps).To(BeEmpty(), "no step of the duplicate ran")
		}, "30s").Should(Succeed())
		page, err := store.ListRuns(ctx, historyQuery("instant"))
		Expect(err).NotTo(HaveOccurred())
		Expect(page.Runs).To(HaveLen(2))
		var succeeded int
		for _, r := range page.Runs {
			if r.Phase == string(v1alpha1.RunSucceeded) {
				succeeded++
			}
		}
		Expect(succeeded).To(Equal(1), "the event enrolled the workflow once")
		Expect(k8s.Delete(ctx, wf)).To(Succeed())
	})
})
