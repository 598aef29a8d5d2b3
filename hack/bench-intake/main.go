// Command bench-intake measures the CloudEvents receiver against baselines
// run in the same process, on the same machine, at the same moment:
//
//  1. events/s accepted for events that match no workflow, beside a bare
//     net/http handler that reads the body and answers 202;
//  2. events/s that enroll a run, beside a plain client-go (dynamic client)
//     loop creating WorkflowRuns of the same content in the same API server;
//  3. p50/p99 per-event latency of both receiver loads.
//
// Each figure is the median of -rounds rounds. Run from the repository root:
//
//	go run ./hack/bench-intake -rounds 5 -duration 2s -concurrency 8
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/controllers/index"
	"github.com/crmflow/crmflow/controllers/intake"
	"github.com/crmflow/crmflow/internal/controlplane"
	"github.com/crmflow/crmflow/runner"
	"github.com/crmflow/crmflow/runner/cloudevents"
)

func main() {
	rounds := flag.Int("rounds", 5, "rounds per figure; medians are reported")
	duration := flag.Duration("duration", 2*time.Second, "length of one measurement")
	concurrency := flag.Int("concurrency", 8, "concurrent senders (closed loop)")
	payload := flag.Int("payload", 1024, "approximate bytes of event data")
	flag.Parse()
	if err := run(*rounds, *duration, *concurrency, *payload); err != nil {
		fmt.Fprintln(os.Stderr, "bench-intake:", err)
		os.Exit(1)
	}
}

func run(rounds int, d time.Duration, conc, payload int) error {
	ctrl.SetLogger(logr.Discard())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env := controlplane.New(".")
	cfg, err := env.Start()
	if err != nil {
		return fmt.Errorf("start control plane: %w", err)
	}
	defer func() { _ = env.Stop() }()
	cfg.QPS, cfg.Burst = 1000, 2000 // the same client limits for the receiver and the baseline

	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1alpha1.AddToScheme(scheme)
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0"})
	if err != nil {
		return err
	}
	if err := index.Setup(ctx, mgr.GetFieldIndexer()); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	if err := intake.Setup(mgr, intake.Options{Listener: ln, Engine: runner.New(runner.Options{})}); err != nil {
		return err
	}
	go func() { _ = mgr.Start(ctx) }()

	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	const ns = "bench"
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		return err
	}
	wf := &v1alpha1.Workflow{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bench"}, Spec: v1alpha1.WorkflowSpec{
		State:      v1alpha1.WorkflowActive,
		Trigger:    v1alpha1.Trigger{Event: &v1alpha1.EventTrigger{Types: []v1alpha1.EventType{"bench.enroll"}}},
		Enrollment: v1alpha1.EnrollmentPolicy{Reenroll: v1alpha1.ReenrollAlways, Concurrency: v1alpha1.ConcurrencyAllow},
		Steps:      []v1alpha1.Step{{Name: "tag", AddTags: &v1alpha1.TagsAction{Tags: []v1alpha1.Template{"Bench"}}}},
	}}
	if err := c.Create(ctx, wf); err != nil {
		return err
	}
	receiverURL := "http://" + ln.Addr().String() + "/v1/namespaces/" + ns + "/events"
	httpc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc * 2}, Timeout: 30 * time.Second}
	data := fmt.Sprintf(`{"contact":{"id":"c-1","notes":%q}}`, strings.Repeat("x", payload))

	// Wait until the receiver serves and knows the workflow.
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, body := send(httpc, receiverURL, "bench.enroll", "warm-up", data)
		if st == http.StatusAccepted && strings.Contains(body, `"enrolled"`) {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("receiver not ready: %d %s", st, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	bare := startBare()
	defer func() { _ = bare.Close() }()
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	template, err := runTemplate(c, ns)
	if err != nil {
		return err
	}
	size, _ := json.Marshal(template.Object)

	var noMatch, bareRate, enroll, direct, ratio1, ratio2 []float64
	var noMatchLat, enrollLat []time.Duration
	var seq atomic.Int64
	for round := range rounds {
		r1, l1 := load(d, conc, func() (bool, time.Duration) {
			return timed(func() bool {
				st, _ := send(httpc, receiverURL, "bench.nomatch", fmt.Sprint("n-", seq.Add(1)), data)
				return st == http.StatusAccepted
			})
		})
		r2, _ := load(d, conc, func() (bool, time.Duration) {
			return timed(func() bool {
				st, _ := send(httpc, bare.URL, "bench.nomatch", fmt.Sprint("b-", seq.Add(1)), data)
				return st == http.StatusAccepted
			})
		})
		enrollLoad := func() (float64, []time.Duration) {
			return load(d, conc, func() (bool, time.Duration) {
				return timed(func() bool {
					st, body := send(httpc, receiverURL, "bench.enroll", fmt.Sprint("e-", seq.Add(1)), data)
					return st == http.StatusAccepted && strings.Contains(body, `"enrolled"`)
				})
			})
		}
		directLoad := func() (float64, []time.Duration) {
			return load(d, conc, func() (bool, time.Duration) {
				return timed(func() bool {
					obj := template.DeepCopy()
					obj.SetName(fmt.Sprint("direct-", seq.Add(1)))
					_, err := dyn.Resource(v1alpha1.GroupVersion.WithResource("workflowruns")).Namespace(ns).Create(context.Background(), obj, metav1.CreateOptions{})
					return err == nil
				})
			})
		}
		// The API server slows as runs accumulate: alternate which load goes first.
		var r3, r4 float64
		var l3 []time.Duration
		if round%2 == 0 {
			r3, l3 = enrollLoad()
			r4, _ = directLoad()
		} else {
			r4, _ = directLoad()
			r3, l3 = enrollLoad()
		}
		noMatch, bareRate, enroll, direct = append(noMatch, r1), append(bareRate, r2), append(enroll, r3), append(direct, r4)
		ratio1, ratio2 = append(ratio1, r1/r2), append(ratio2, r3/r4)
		noMatchLat, enrollLat = append(noMatchLat, l1...), append(enrollLat, l3...)
		fmt.Printf("round %d: no-match %.0f/s vs bare %.0f/s; enroll %.0f/s vs client-go %.0f/s\n", round+1, r1, r2, r3, r4)
	}
	fmt.Printf("\nconcurrency %d closed-loop senders, %s per measurement, %d rounds, event data %d bytes (binary mode, body = data), WorkflowRun %d bytes as JSON\n",
		conc, d, rounds, len(data), len(size))
	fmt.Printf("no-match events/s: receiver %.0f, bare net/http 202 handler %.0f, ratio %.3f (median of per-round ratios)\n", median(noMatch), median(bareRate), median(ratio1))
	fmt.Printf("enrolling events/s: receiver %.0f, client-go create loop %.0f, ratio %.3f (median of per-round ratios)\n", median(enroll), median(direct), median(ratio2))
	fmt.Printf("latency no-match: p50 %s p99 %s; enrolling: p50 %s p99 %s (at %d concurrent senders)\n",
		pct(noMatchLat, 50), pct(noMatchLat, 99), pct(enrollLat, 50), pct(enrollLat, 99), conc)
	return nil
}

// send posts one binary-mode event and returns the status and body.
func send(c *http.Client, url, typ, id, data string) (int, string) {
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(data))
	cloudevents.SetBinary(req.Header, &v1alpha1.CloudEvent{ID: id, Source: "bench", Type: typ, Subject: "c-" + id,
		Data: &runtime.RawExtension{Raw: []byte(data)}})
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// runTemplate reads the warm-up run the receiver created, as the object a
// plain client creates in the baseline: same spec, same size.
func runTemplate(c client.Client, ns string) (*unstructured.Unstructured, error) {
	var runs v1alpha1.WorkflowRunList
	if err := c.List(context.Background(), &runs, client.InNamespace(ns)); err != nil || len(runs.Items) == 0 {
		return nil, fmt.Errorf("read warm-up run: %w (%d runs)", err, len(runs.Items))
	}
	run := runs.Items[0]
	fresh := &v1alpha1.WorkflowRun{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "WorkflowRun"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Labels: run.Labels, OwnerReferences: run.OwnerReferences},
		Spec:       run.Spec,
	}
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(fresh)
	if err != nil {
		return nil, err
	}
	return &unstructured.Unstructured{Object: obj}, nil
}

type bareServer struct {
	*http.Server
	URL string
}

// startBare is the baseline receiver: read the body, answer 202.
func startBare() *bareServer {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	s := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	})}
	go func() { _ = s.Serve(ln) }()
	return &bareServer{Server: s, URL: "http://" + ln.Addr().String() + "/v1/namespaces/bench/events"}
}

// load runs conc closed-loop workers for d; it returns successes per second
// and every latency. A failure aborts the benchmark: figures of failing
// requests mean nothing.
func load(d time.Duration, conc int, op func() (bool, time.Duration)) (float64, []time.Duration) {
	var mu sync.Mutex
	var lat []time.Duration
	var ok, failed atomic.Int64
	stop := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(stop) {
				good, l := op()
				if good {
					ok.Add(1)
					mine = append(mine, l)
				} else {
					failed.Add(1)
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		fmt.Fprintf(os.Stderr, "warning: %d failed requests\n", failed.Load())
	}
	return float64(ok.Load()) / time.Since(start).Seconds(), lat
}

func timed(f func() bool) (bool, time.Duration) {
	t := time.Now()
	good := f()
	return good, time.Since(t)
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

func pct(ls []time.Duration, p int) time.Duration {
	if len(ls) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ls...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[(len(s)-1)*p/100].Round(10 * time.Microsecond)
}
