//go:build !unit

package e2e

import (
	"context"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/controllers"
	"github.com/crmflow/crmflow/controllers/index"
	"github.com/crmflow/crmflow/controllers/workflow"
	"github.com/crmflow/crmflow/controllers/workflowrun"
	"github.com/crmflow/crmflow/runner"
	"github.com/crmflow/crmflow/runner/actions"
)

// fakeClockPoll is how often managers on a fake clock revisit what waits
// (their pollEvery requeue policy). Moving a fake clock wakes nothing by
// itself: a real RequeueAfter of "1h" would sleep a real hour. With the
// policy, each waiting run is revisited this often; when the test has
// stepped the clock past its wakeAt, the revisit advances it, otherwise the
// engine changes nothing and the revisit costs no API write (which the
// write-count assertions prove).
const fakeClockPoll = 100 * time.Millisecond

// pollEvery is the requeue policy of a manager on a fake clock: no wait is
// longer than it, and what waits for nothing is revisited at that interval.
type pollEvery time.Duration

// RequeueAfter caps wait at the poll interval.
func (p pollEvery) RequeueAfter(wait time.Duration) time.Duration {
	if wait == 0 || wait > time.Duration(p) {
		return time.Duration(p)
	}
	return wait
}

// requeue is the requeue policy for managerOptions.poll: none for 0.
func (o managerOptions) requeue() controllers.RequeuePolicy {
	if o.poll <= 0 {
		return nil
	}
	return pollEvery(o.poll)
}

// writeCounter counts the API writes the manager's client makes, per object
// name (runs are named uniquely across a spec).
type writeCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

func newWriteCounter() *writeCounter { return &writeCounter{counts: map[string]int{}} }

func (w *writeCounter) add(o client.Object) {
	if _, ok := o.(*v1alpha1.WorkflowRun); !ok {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.counts[o.GetName()]++
}

// of returns the writes made to the run named name.
func (w *writeCounter) of(name string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.counts[name]
}

// funcs wraps every write of a client.
func (w *writeCounter) funcs() interceptor.Funcs {
	return interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.CreateOption) error {
			w.add(o)
			return c.Create(ctx, o, opts...)
		},
		Update: func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.UpdateOption) error {
			w.add(o)
			return c.Update(ctx, o, opts...)
		},
		Patch: func(ctx context.Context, c client.WithWatch, o client.Object, p client.Patch, opts ...client.PatchOption) error {
			w.add(o)
			return c.Patch(ctx, o, p, opts...)
		},
		Delete: func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.DeleteOption) error {
			w.add(o)
			return c.Delete(ctx, o, opts...)
		},
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, o client.Object, opts ...client.SubResourceUpdateOption) error {
			w.add(o)
			return c.SubResource(sub).Update(ctx, o, opts...)
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, o client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
			w.add(o)
			return c.SubResource(sub).Patch(ctx, o, p, opts...)
		},
	}
}

// managerOptions shape one test manager.
type managerOptions struct {
	namespace string
	clock     clock.PassiveClock
	// poll is how often what waits is revisited (fakeClockPoll on a fake
	// clock, 0 on the real one, where waits are exact).
	poll   time.Duration
	writes *writeCounter
	// metrics, when set, receives crmflow's metrics.
	metrics *controllers.Metrics
	// noCleaner leaves finished runs in etcd (a spec drives its own RunCleaner).
	noCleaner bool
}

// cacheFor is crmflow's cache options limited to one namespace.
func cacheFor(namespace string) cache.Options {
	o := controllers.CacheOptions()
	o.DefaultNamespaces = map[string]cache.Config{namespace: {}}
	return o
}

// testManager is a running manager; stop ends it and waits until it stopped.
type testManager struct {
	stop func()
}

// startManager runs crmflow's controllers for one namespace, as main.go wires
// them, with the given clock injected into the reconcilers, the engine and
// the executors.
func startManager(o managerOptions) *testManager {
	GinkgoHelper()
	if o.writes == nil {
		o.writes = newWriteCounter()
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  cacheFor(o.namespace),
		// Specs start several managers in one process, one after another.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
		NewClient: func(c *rest.Config, opts client.Options) (client.Client, error) {
			cl, err := client.NewWithWatch(c, opts)
			if err != nil {
				return nil, err
			}
			return interceptor.NewClient(cl, o.writes.funcs()), nil
		},
	})
	Expect(err).NotTo(HaveOccurred())
	ctx, cancel := context.WithCancel(suiteCtx)
	Expect(index.Setup(ctx, mgr.GetFieldIndexer())).To(Succeed())

	engine := runner.New(runner.Options{
		Executor:   actions.NewExecutor(actions.Config{Clock: o.clock, Egress: &actions.EgressPolicy{Allow: []string{"127.0.0.1"}}}),
		CRMSinkURL: target.URL + "/crm",
		MaxHops:    8,
	})
	m := o.metrics
	if m == nil {
		m, err = controllers.NewMetrics(prometheus.NewRegistry())
		Expect(err).NotTo(HaveOccurred())
	}
	shared := controllers.NewShared(mgr)
	shared.Counters.FlushInterval = 200 * time.Millisecond
	Expect((&workflow.Reconciler{
		Revisions: shared.Revisions,
		Counters:  shared.Counters,
		Client:    mgr.GetClient(),
		Clock:     o.clock,
		Compile: func(spec *v1alpha1.WorkflowSpec) error {
			return engine.Validate(spec, field.NewPath("spec")).ToAggregate()
		},
		Recorder: mgr.GetEventRecorder("crmflow-workflow"),
		Metrics:  m,
		Requeue:  o.requeue(),
	}).SetupWithManager(mgr)).To(Succeed())
	Expect((&workflowrun.Reconciler{
		Revisions: shared.Revisions,
		Counters:  shared.Counters,
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Clock:     o.clock,
		Engine:    engine,
		Secrets:   &controllers.SecretReader{Reader: mgr.GetAPIReader()},
		Recorder:  mgr.GetEventRecorder("crmflow-workflowrun"),
		Metrics:   m,
		Requeue:   o.requeue(),
	}).SetupWithManager(mgr)).To(Succeed())

	if !o.noCleaner {
		Expect(mgr.Add(&workflowrun.RunCleaner{Client: mgr.GetClient(), Clock: o.clock, Interval: 200 * time.Millisecond})).To(Succeed())
	}

	done := make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
	tm := &testManager{stop: func() { cancel(); <-done }}
	DeferCleanup(tm.stop)
	return tm
}
