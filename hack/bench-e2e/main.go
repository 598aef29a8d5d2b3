// Command bench-e2e measures crmflow end to end on this machine, against
// baselines measured in the same run, and prints the figures (it asserts
// nothing). Run it from the repository root:
//
//	go run ./hack/bench-e2e                      # -mode e2e, 1500 events × 3 reps × 1, 8, 32 senders
//	go run ./hack/bench-e2e -events 300 -reps 1  # a quick look
//	go run ./hack/bench-e2e -mode both           # empty namespace, then with 20,000 finished + 10,000 waiting runs
//	go run ./hack/bench-e2e -mode wake -wake-window 2m
//
// What it starts, all on 127.0.0.1 and free ports, all stopped on exit and on
// Ctrl-C (each child in its own process group; temp dir removed unless -keep):
// etcd WITH fsync (its data in a temp dir on disk; envtest passes
// --unsafe-no-fsync, a real cluster does not), kube-apiserver with a
// static-token admin (both from bin/k8s/<version>, or KUBEBUILDER_ASSETS),
// crmflow's CRDs from config/crd/bases, a local sink that counts every CRM
// command and notification by its Idempotency-Key, and the manager binary
// (`go build -o <tmp>/manager .`, --leader-elect=false
// --enable-webhooks=false --crm-sink-url=<sink> --egress-allow=127.0.0.1).
// It applies the VIP routing sample (config/samples/*vip-routing*.yaml,
// three side effects per run) with its Secret crmflow-notify pointing at
// the sink.
//
// Modes:
//
//   - e2e: for each sender count of -senders, -reps repetitions of -events
//     VIP conversation.started events (a new id each, subjects spread over
//     -contacts contacts, tagged VIP so each enrolls) posted closed-loop to
//     the receiver (a sender posts its next event after the 202 of the
//     previous). Per sender count it prints the median over repetitions of:
//     events/s end to end (events ÷ time from the first post until the sink
//     has seen every run's 3 side effects), p50/p99 acknowledgement latency
//     (POST to 202), API writes per event by verb and resource (delta of
//     kube-apiserver's own apiserver_request_total over the repetition,
//     writes = POST/PUT/PATCH/DELETE/APPLY/DELETECOLLECTION, taken once the
//     write counter stops moving after the last side effect), CPU ms per
//     event of manager + kube-apiserver + etcd (utime+stime of
//     /proc/<pid>/stat) and the peak of their summed VmRSS (sampled every
//     100 ms). After each repetition it checks at the sink that no event lost
//     a side effect and that no Idempotency-Key arrived twice. Then it stops
//     the manager (SIGTERM) and, with -bare-workers writers, measures the bare
//     two-write loop (create a WorkflowRun of the shape intake creates,
//     then write the status a real finished run ended with) and ConfigMap
//     creates of the same serialized size, and prints the ratios. Last, the
//     objects left in etcd per enrolled subject (Leases, ControllerRevisions,
//     runs, Kubernetes Events).
//   - preload: creates -preload-finished finished and -preload-waiting waiting
//     runs directly through the API (a bounded worker pool, manager stopped),
//     then measures as e2e does.
//   - both: e2e on the empty namespace, then preload and the same
//     measurement, and the ratio of the two end-to-end rates.
//   - wake: -wake-runs waiting runs whose wakes are spread evenly over
//     -wake-window and -wake-burst that wake in the same second (in the middle
//     of the window); see wake.go for how lateness is defined.
//   - lead: the lead follow-up sample (3 waits, 2 emails, 1 CRM command) with
//     its waits cut to seconds and its mail sent to a local SMTP sink;
//     -lead-runs new contacts per repetition, once without a reply and once
//     replying to each welcome email; prints the API writes per run by verb
//     and resource from apiserver_request_total, and checks each contact got
//     the emails its path sends.
//
// Flags (defaults in brackets): -root [.] repository root; -mode [e2e];
// -events [1500] events per repetition; -reps [3]; -senders [1,8,32];
// -contacts [1000] distinct subjects; -bare-workers [8]; -rep-timeout [5m]
// time limit of one repetition; -preload-finished [20000];
// -preload-waiting [10000]; -preload-workers [16]; -wake-runs [10000];
// -wake-burst [1000]; -wake-window [10m]; -lead-runs [300]; -manager-args [""] extra manager
// flags, space-separated; -keep [false] keep the temp dir (logs, etcd data).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	crlog "sigs.k8s.io/controller-runtime/pkg/log"
)

// options are the flags.
type options struct {
	root            string
	mode            string
	events          int
	reps            int
	senders         []int
	contacts        int
	bareWorkers     int
	repTimeout      time.Duration
	preloadFinished int
	preloadWaiting  int
	preloadWorkers  int
	wakeRuns        int
	wakeBurst       int
	wakeWindow      time.Duration
	managerArgs     string
	keep            bool
	leadRuns        int
}

func main() {
	var o options
	var senders string
	flag.StringVar(&o.root, "root", ".", "repository root (config/crd, config/samples, bin/k8s, main.go)")
	flag.StringVar(&o.mode, "mode", "e2e", "e2e, preload, both, wake or lead")
	flag.IntVar(&o.events, "events", 1500, "events per repetition (and writes of each baseline repetition)")
	flag.IntVar(&o.reps, "reps", 3, "repetitions per sender count; medians are printed")
	flag.StringVar(&senders, "senders", "1,8,32", "closed-loop sender counts, comma-separated")
	flag.IntVar(&o.contacts, "contacts", 1000, "distinct contacts (subjects) the events are spread over")
	flag.IntVar(&o.bareWorkers, "bare-workers", 8, "writers of the bare two-write loop and of the ConfigMap baseline")
	flag.DurationVar(&o.repTimeout, "rep-timeout", 5*time.Minute, "time limit of one repetition (sending and waiting for the sink)")
	flag.IntVar(&o.preloadFinished, "preload-finished", 20000, "finished runs stored before the preload measurement")
	flag.IntVar(&o.preloadWaiting, "preload-waiting", 10000, "waiting runs stored before the preload measurement")
	flag.IntVar(&o.preloadWorkers, "preload-workers", 16, "writers creating preloaded runs")
	flag.IntVar(&o.leadRuns, "lead-runs", 300, "lead follow-up runs per repetition and path (lead mode)")
	flag.IntVar(&o.wakeRuns, "wake-runs", 10000, "runs whose wakes are spread over -wake-window")
	flag.IntVar(&o.wakeBurst, "wake-burst", 1000, "runs that wake in the same second")
	flag.DurationVar(&o.wakeWindow, "wake-window", 10*time.Minute, "window the spread wakes are due in")
	flag.StringVar(&o.managerArgs, "manager-args", "", "extra manager flags, space-separated (e.g. \"--run-workers=32\")")
	flag.BoolVar(&o.keep, "keep", false, "keep the temp dir (process logs, etcd data) and print its path")
	flag.Parse()
	for _, s := range strings.Split(senders, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "bench-e2e: -senders: %q is not a positive number\n", s)
			os.Exit(2)
		}
		o.senders = append(o.senders, n)
	}
	switch {
	case o.mode != "e2e" && o.mode != "preload" && o.mode != "both" && o.mode != "wake" && o.mode != "lead":
		fmt.Fprintf(os.Stderr, "bench-e2e: -mode must be e2e, preload, both, wake or lead, got %q\n", o.mode)
		os.Exit(2)
	case o.events < 1 || o.leadRuns < 1 || o.reps < 1 || o.contacts < 1 || o.bareWorkers < 1 || o.preloadWorkers < 1:
		fmt.Fprintln(os.Stderr, "bench-e2e: -events, -lead-runs, -reps, -contacts, -bare-workers and -preload-workers must be at least 1")
		os.Exit(2)
	case o.wakeWindow < 10*time.Second:
		fmt.Fprintln(os.Stderr, "bench-e2e: -wake-window must be at least 10s")
		os.Exit(2)
	}

	crlog.SetLogger(logr.Discard()) // the client's own logs are noise here
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-e2e:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) (err error) {
	root, err := filepath.Abs(o.root)
	if err != nil {
		return err
	}
	o.root = root
	dir, err := os.MkdirTemp("", "bench-e2e-")
	if err != nil {
		return err
	}
	defer func() {
		if o.keep {
			fmt.Println("kept", dir)
			return
		}
		_ = os.RemoveAll(dir)
	}()

	say("building the manager")
	bin, err := buildManager(ctx, root, dir)
	if err != nil {
		return err
	}
	say("starting etcd (with fsync) and kube-apiserver from %s", assetsDir(root))
	cp, err := startControlPlane(ctx, root, dir)
	defer cp.stop()
	if err != nil {
		return err
	}
	b, err := newBench(ctx, o, cp, bin, dir)
	if b != nil {
		defer b.close()
	}
	if err != nil {
		return err
	}
	switch o.mode {
	case "e2e":
		_, err = b.e2ePhase(ctx, "empty namespace")
	case "preload":
		if err = b.preload(ctx); err == nil {
			_, err = b.e2ePhase(ctx, "preloaded")
		}
	case "both":
		var empty, loaded float64
		if empty, err = b.e2ePhase(ctx, "empty namespace"); err != nil {
			break
		}
		if err = b.preload(ctx); err != nil {
			break
		}
		if loaded, err = b.e2ePhase(ctx, "preloaded"); err != nil {
			break
		}
		fmt.Printf("\n== preloaded ÷ empty namespace, events/s end to end at %d senders: %.1f ÷ %.1f = %.3f (acceptance ≥ 0.9)\n",
			o.senders[len(o.senders)-1], loaded, empty, loaded/empty)
	case "wake":
		err = b.wake(ctx)
	case "lead":
		err = b.leadPhase(ctx)
	}
	if errors.Is(err, context.Canceled) {
		say("interrupted; stopping everything")
	}
	return err
}

func say(format string, args ...any) {
	fmt.Printf("[bench %s] "+format+"\n", append([]any{time.Now().UTC().Format("15:04:05")}, args...)...)
}
