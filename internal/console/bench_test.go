//go:build !unit

package console_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/internal/console"
	"github.com/crmflow/crmflow/runner"
	"github.com/crmflow/crmflow/test/testenv"
)

// BenchmarkRunsPage stores 10,000 runs of one workflow in a real API server
// and measures, in headless Chromium, how long the runs page of that
// workflow takes from navigation to its first page of rows on screen, and
// how many bytes the page load transfers (document, script, style, API),
// against a baseline workflow with 10 runs in the same run:
//
//	go test ./internal/console -run '^$' -bench BenchmarkRunsPage -benchtime 1x
func BenchmarkRunsPage(b *testing.B) {
	if _, err := os.Stat(filepath.Join(repoRoot, "internal", "console", "dist", "index.html")); err != nil {
		b.Fatal("the console's web assets are not built: run `make console`")
	}
	log.SetLogger(logr.Discard())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	scheme, err := testenv.Scheme()
	if err != nil {
		b.Fatal(err)
	}
	env := testenv.New(repoRoot)
	cfg, err := env.Start()
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = env.Stop() }()
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		b.Fatal(err)
	}
	for _, ns := range []string{"bench", "baseline"} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			b.Fatal(err)
		}
	}
	start := time.Now()
	if err := createRuns(ctx, c, "bench", "vip-routing", 10000); err != nil {
		b.Fatal(err)
	}
	b.Logf("stored 10,000 runs in %s", time.Since(start).Round(time.Second))
	if err := createRuns(ctx, c, "baseline", "vip-routing", 10); err != nil {
		b.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv, err := console.NewLocal(c, console.Options{Listener: ln, Scheme: scheme, Engine: runner.New(runner.Options{})})
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = srv.Start(ctx) }()
	base := "http://" + ln.Addr().String()

	profile, err := os.MkdirTemp("", "console-bench-chromium-*")
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = os.RemoveAll(profile) }()
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, chromedp.ExecPath(chromiumPath()),
		chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(profile), chromedp.WindowSize(1280, 1000))
	defer cancelAlloc()
	browserCtx, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	if err := chromedp.Do(browserCtx); err != nil {
		b.Fatal(err)
	}

	b.ResetTimer()
	// Interleaved, so that load from other work on the machine hits both alike.
	var big, small []time.Duration
	var bigBytes, smallBytes int64
	for i := 0; i < 5; i++ {
		d, n := loadRunsPage(b, browserCtx, base, "bench", 50)
		big, bigBytes = append(big, d), n
		d, n = loadRunsPage(b, browserCtx, base, "baseline", 10)
		small, smallBytes = append(small, d), n
	}
	b.StopTimer()
	fmt.Printf("runs page, first page of 50 of 10,000 runs: median %s of 5 (samples %v), %d bytes transferred\n", median(big), big, bigBytes)
	fmt.Printf("runs page, baseline of 10 runs:             median %s of 5 (samples %v), %d bytes transferred\n", median(small), small, smallBytes)
	fmt.Printf("ratio 10,000 runs / 10 runs: %.2f\n", float64(median(big))/float64(median(small)))
	b.ReportMetric(float64(median(big).Milliseconds()), "ms/first-page")
	b.ReportMetric(float64(bigBytes), "bytes/page-load")
	if bigBytes >= 200*1024 {
		b.Errorf("the runs page transferred %d bytes, over the 200 KB budget", bigBytes)
	}
}

// loadRunsPage loads the runs page of workflow vip-routing in ns in a fresh
// tab and returns the time from navigation start to `rows` rows on screen,
// and the bytes the load transferred.
func loadRunsPage(b *testing.B, browserCtx context.Context, base, ns string, rows int) (time.Duration, int64) {
	url := fmt.Sprintf("%s/#/ns/%s/runs?workflow=vip-routing", base, ns)
	tabCtx, cancelTab := chromedp.NewContext(browserCtx)
	defer cancelTab()
	if err := chromedp.Do(tabCtx); err != nil {
		b.Fatal(err)
	}
	tctx, cancel := context.WithTimeout(tabCtx, time.Minute)
	defer cancel()
	began := time.Now()
	err := chromedp.Do(tctx, chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf("#runs tbody tr:nth-child(%d)", rows))))
	elapsed := time.Since(began)
	if err != nil {
		b.Fatalf("load %s: %v", url, err)
	}
	// Everything the page fetched: the document, its script and style, the API.
	n, err := chromedp.Run(tctx, chromedp.Evaluate[[]float64](`(() => {
		const size = (e) => e.transferSize || e.encodedBodySize || 0;
		const all = performance.getEntries().filter(e => e.entryType === 'navigation' || e.entryType === 'resource');
		return [all.reduce((s, e) => s + size(e), 0),
		        all.filter(e => e.name.includes('/runs?')).reduce((s, e) => s + size(e), 0)];
	})()`))
	if err != nil || len(n) != 2 {
		b.Fatalf("read transfer sizes: %v", err)
	}
	if ns == "bench" {
		b.Logf("runs API page: %d bytes of %d", int64(n[1]), int64(n[0]))
	}
	return elapsed.Round(time.Millisecond), int64(n[0])
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// createRuns stores n runs of workflow wf in ns, each referencing a revision
// of the workflow and carrying its triggering event, as intake creates them.
func createRuns(ctx context.Context, c client.Client, ns, wf string, n int) error {
	work := make(chan int)
	errs := make(chan error, 16)
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				subject := fmt.Sprintf("c-%05d", i)
				data := fmt.Sprintf(`{"conversation":{"id":"conv-%d","contactId":%q,"channel":"chat"},"contact":{"id":%q,"firstName":"Ann","lastName":"Lee","email":"ann@example.com","tags":["VIP"]}}`, i, subject, subject)
				t := metav1.Now()
				run := &v1alpha1.WorkflowRun{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%05d", wf, i), Namespace: ns, Labels: map[string]string{
						v1alpha1.LabelWorkflow: v1alpha1.WorkflowLabelValue(wf), v1alpha1.LabelSubjectHash: v1alpha1.SubjectHash(subject), v1alpha1.LabelTrigger: "event"}},
					Spec: v1alpha1.WorkflowRunSpec{WorkflowName: wf, WorkflowRevision: wf + "-6b8f7c9d5", Subject: subject,
						Event: &v1alpha1.CloudEvent{ID: fmt.Sprintf("evt-%d", i), Source: "crm.bench", Type: "conversation.started", Subject: subject,
							Time: &t, DataContentType: "application/json", Data: &runtime.RawExtension{Raw: []byte(data)}}},
				}
				if err := c.Create(ctx, run); err != nil {
					select {
					case errs <- fmt.Errorf("create run %d: %w", i, err):
					default:
					}
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}
