// Command bench-wake measures how late crmflow wakes waiting runs: it starts
// a real API server (envtest with the binaries in bin/k8s), runs the
// WorkflowRunReconciler on the real clock, creates -runs WorkflowRuns that
// each wait -wait and finish, and prints the median and p99 of
// (time the run advanced − its wakeAt), the API writes per run, and, as a
// baseline measured in the same process, the lateness of plain Go timers set
// for the same wake times.
//
//	go run ./hack/bench-wake -runs 1000 -wait 20s -workers 16
//
// It prints figures; it asserts nothing.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/controllers"
	"github.com/crmflow/crmflow/controllers/index"
	"github.com/crmflow/crmflow/runner"
	"github.com/crmflow/crmflow/runner/actions"
	"github.com/crmflow/crmflow/test/testenv"
)

func main() {
	runs := flag.Int("runs", 1000, "waiting runs to create")
	wait := flag.Duration("wait", 20*time.Second, "each run's wait step")
	workers := flag.Int("workers", 16, "WorkflowRunReconciler workers (--run-workers)")
	creators := flag.Int("creators", 8, "goroutines creating runs")
	root := flag.String("root", ".", "repository root (for CRDs and bin/k8s)")
	flag.Parse()
	if err := bench(*root, *runs, *wait, *workers, *creators); err != nil {
		fmt.Fprintln(os.Stderr, "bench-wake:", err)
		os.Exit(1)
	}
}

func bench(root string, n int, wait time.Duration, workers, creators int) error {
	ctrl.SetLogger(logr.Discard())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env := testenv.New(root)
	env.CRDDirectoryPaths = []string{filepath.Join(root, "config", "crd", "bases")}
	cfg, err := env.Start()
	if err != nil {
		return fmt.Errorf("start API server: %w", err)
	}
	defer func() { _ = env.Stop() }()
	// The default client-side rate limit (QPS 20) would measure the limiter.
	cfg.QPS, cfg.Burst = 1000, 2000

	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1alpha1.AddToScheme(scheme)
	cl, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	const ns = "bench"
	if err := cl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		return err
	}

	var writes atomic.Int64
	count := func(o client.Object) {
		if _, ok := o.(*v1alpha1.WorkflowRun); ok {
			writes.Add(1)
		}
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		NewClient: func(c *rest.Config, o client.Options) (client.Client, error) {
			w, err := client.NewWithWatch(c, o)
			if err != nil {
				return nil, err
			}
			return interceptor.NewClient(w, interceptor.Funcs{
				Create: func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.CreateOption) error {
					count(o)
					return c.Create(ctx, o, opts...)
				},
				Patch: func(ctx context.Context, c client.WithWatch, o client.Object, p client.Patch, opts ...client.PatchOption) error {
					count(o)
					return c.Patch(ctx, o, p, opts...)
				},
				Update: func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.UpdateOption) error {
					count(o)
					return c.Update(ctx, o, opts...)
				},
				Delete: func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.DeleteOption) error {
					count(o)
					return c.Delete(ctx, o, opts...)
				},
				SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, o client.Object, opts ...client.SubResourceUpdateOption) error {
					count(o)
					return c.SubResource(sub).Update(ctx, o, opts...)
				},
				SubResourcePatch: func(ctx context.Context, c client.Client, sub string, o client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
					count(o)
					return c.SubResource(sub).Patch(ctx, o, p, opts...)
				},
			}), nil
		},
	})
	if err != nil {
		return err
	}
	if err := index.Setup(ctx, mgr.GetFieldIndexer()); err != nil {
		return err
	}
	metrics, err := controllers.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		return err
	}
	var mu sync.Mutex
	var lateness []time.Duration
	metrics.OnWake(func(d time.Duration) {
		mu.Lock()
		lateness = append(lateness, d)
		mu.Unlock()
	})
	engine := runner.New(runner.Options{Executor: actions.NewExecutor(actions.Config{Egress: &actions.EgressPolicy{Allow: []string{"127.0.0.1"}}})})
	if err := (&controllers.WorkflowRunReconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Clock: clock.RealClock{}, Engine: engine,
		Secrets: controllers.SecretReader{Reader: mgr.GetAPIReader()}, Metrics: metrics, MaxConcurrentReconciles: workers,
	}).SetupWithManager(mgr); err != nil {
		return err
	}
	go func() { _ = mgr.Start(ctx) }()

	d := v1alpha1.Duration(wait.String())
	wf := &v1alpha1.Workflow{
		ObjectMeta: metav1.ObjectMeta{Name: "sleepy", Namespace: ns},
		Spec: v1alpha1.WorkflowSpec{
			State:   v1alpha1.WorkflowActive,
			Trigger: v1alpha1.Trigger{Event: &v1alpha1.EventTrigger{Types: []v1alpha1.EventType{"contact.created"}}},
			Steps:   []v1alpha1.Step{{Name: "nap", Wait: &v1alpha1.WaitAction{Duration: &d}}},
		},
	}
	if err := cl.Create(ctx, wf); err != nil {
		return err
	}

	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, creators)
	for range creators {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := cl.Create(ctx, runOf(wf, scheme, i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return fmt.Errorf("create runs: %w", err)
	}
	created := time.Since(start)

	// Wait until every run finished.
	deadline := time.Now().Add(wait + 5*time.Minute)
	for {
		list := &v1alpha1.WorkflowRunList{}
		if err := cl.List(ctx, list, client.InNamespace(ns)); err != nil {
			return err
		}
		finished := 0
		for i := range list.Items {
			if list.Items[i].Status.Phase.IsFinished() {
				finished++
			}
		}
		if finished == n {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d runs finished", len(list.Items), n)
		}
		time.Sleep(500 * time.Millisecond) // a benchmark's poll, not a test wait
	}

	// Baseline: Go timers for the same number of deadlines spread like the
	// runs' (over the creation time), measured in this process now.
	base := timerBaseline(n, created, wait)

	mu.Lock()
	defer mu.Unlock()
	fmt.Printf("runs=%d wait=%s workers=%d created in %s (%.0f runs/s)\n", n, wait, workers, created.Round(time.Millisecond), float64(n)/created.Seconds())
	p50, p99 := percentile(lateness, 0.50), percentile(lateness, 0.99)
	b50, b99 := percentile(base, 0.50), percentile(base, 0.99)
	fmt.Printf("wake lateness (run advanced − status.wakeAt), %d samples: median %s  p99 %s  max %s\n", len(lateness), p50, p99, percentile(lateness, 1))
	fmt.Printf("baseline Go timers, same deadlines:             median %s  p99 %s\n", b50, b99)
	fmt.Printf("API writes by the controller per run: %.2f (%d writes / %d runs)\n", float64(writes.Load())/float64(n), writes.Load(), n)
	return nil
}

// runOf builds run i the way intake creates runs.
func runOf(wf *v1alpha1.Workflow, scheme *runtime.Scheme, i int) *v1alpha1.WorkflowRun {
	subject := fmt.Sprintf("c-%d", i)
	now := metav1.Now()
	run := &v1alpha1.WorkflowRun{
		ObjectMeta: metav1.ObjectMeta{
			Name: fmt.Sprintf("sleepy-%05d", i), Namespace: wf.Namespace,
			Labels: map[string]string{v1alpha1.LabelWorkflow: wf.Name, v1alpha1.LabelSubjectHash: v1alpha1.SubjectHash(subject), v1alpha1.LabelTrigger: "event"},
		},
		Spec: v1alpha1.WorkflowRunSpec{
			WorkflowName: wf.Name, WorkflowGeneration: wf.Generation, Workflow: wf.Spec.DeepCopy(), Subject: subject,
			Event: &v1alpha1.CloudEvent{ID: fmt.Sprint(i), Source: "bench", Type: "contact.created", Subject: subject, Time: &now},
		},
	}
	_ = controllerutil.SetControllerReference(wf, run, scheme)
	return run
}

// timerBaseline sets n Go timers due over spread after wait and returns how late each fired.
func timerBaseline(n int, spread, wait time.Duration) []time.Duration {
	start := time.Now()
	out := make([]time.Duration, n)
	var wg sync.WaitGroup
	for i := range n {
		due := start.Add(wait/4 + time.Duration(int64(spread)*int64(i)/int64(n)))
		wg.Add(1)
		time.AfterFunc(time.Until(due), func() {
			out[i] = time.Since(due)
			wg.Done()
		})
	}
	wg.Wait()
	return out
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p*float64(len(s))+0.5) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(s) {
		i = len(s) - 1
	}
	return s[i].Round(time.Millisecond)
}
