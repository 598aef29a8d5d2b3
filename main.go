/*
Copyright 2026 The crmflow Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Command manager runs crmflow: the Workflow and WorkflowRun controllers and
// the CloudEvents receiver, with leader election, health probes and
// Prometheus metrics.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
	_ "time/tzdata" // cron and business-hours time zones work in distroless images too

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/controllers"
	"github.com/crmflow/crmflow/controllers/index"
	"github.com/crmflow/crmflow/controllers/intake"
	"github.com/crmflow/crmflow/controllers/intake/request"
	"github.com/crmflow/crmflow/controllers/workflow"
	"github.com/crmflow/crmflow/controllers/workflowrun"
	"github.com/crmflow/crmflow/internal/console"
	"github.com/crmflow/crmflow/internal/faultinject"
	"github.com/crmflow/crmflow/internal/history"
	historyapi "github.com/crmflow/crmflow/internal/history/api"
	"github.com/crmflow/crmflow/internal/history/archiver"
	historysetup "github.com/crmflow/crmflow/internal/history/setup"
	crmwebhook "github.com/crmflow/crmflow/internal/webhook"
	"github.com/crmflow/crmflow/runner"
	"github.com/crmflow/crmflow/runner/actions"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// config is everything the flags set.
type config struct {
	metricsAddr    string
	secureMetrics  bool
	probeAddr      string
	pprofAddr      string
	receiverAddr   string
	consoleAddr    string
	webhookPort    int
	webhookCertDir string
	enableHTTP2    bool
	enableWebhooks bool
	leaderElect    bool
	leaderElectID  string
	leaderElectNS  string
	crmSinkURL     string
	maxHops        int
	maxEventBytes  int64
	runWorkers     int
	secretMaxAge   time.Duration
	maxEventAge    time.Duration
	maxClockSkew   time.Duration
	egressAllow    []string
	sigTolerance   time.Duration
	history        historysetup.Config
	zap            zap.Options
}

func parseFlags(args []string) (config, error) {
	return parseFlagsTo(args, os.Stderr)
}

// parseFlagsTo parses args and CRMFLOW_* variables, writing usage and parse
// errors to out.
func parseFlagsTo(args []string, out io.Writer) (config, error) {
	c := config{zap: zap.Options{Development: false}}
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `crmflow manager: the Workflow and WorkflowRun controllers and the CloudEvents receiver.

Usage: manager [flags]

Every flag may also be given as an environment variable CRMFLOW_<FLAG>, with
dashes as underscores (e.g. CRMFLOW_CRM_SINK_URL); a flag on the command line wins.

Flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&c.metricsAddr, "metrics-bind-address", ":8082", "Address of the Prometheus metrics endpoint (controller-runtime's and crmflow_* series); \"0\" disables it.")
	fs.BoolVar(&c.secureMetrics, "metrics-secure", false, "Serve metrics over HTTPS with authentication and authorization (TokenReview/SubjectAccessReview); false serves plain HTTP, as the Helm chart's ServiceMonitor scrapes it.")
	fs.StringVar(&c.probeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz endpoints.")
	fs.StringVar(&c.pprofAddr, "pprof-bind-address", "", "Address of Go's /debug/pprof profiles, for profiling the manager; empty (the default) serves none.")
	fs.StringVar(&c.receiverAddr, "receiver-bind-address", intake.DefaultAddr, "Address of the CloudEvents receiver (POST /v1/namespaces/<namespace>/events).")
	fs.StringVar(&c.consoleAddr, "console-bind-address", "", "Address of the web console (off when empty). Every Kubernetes call it makes carries the signed-in person's own bearer token, never the manager's.")
	fs.IntVar(&c.webhookPort, "webhook-port", 9443, "Port of the admission webhook server.")
	fs.StringVar(&c.webhookCertDir, "webhook-cert-dir", "", "Directory holding tls.crt and tls.key of the webhook server (default: controller-runtime's, /tmp/k8s-webhook-server/serving-certs).")
	fs.BoolVar(&c.enableWebhooks, "enable-webhooks", true, "Serve the admission webhooks (defaulting, and validation that compiles every expression); needs a serving certificate in --webhook-cert-dir.")
	fs.BoolVar(&c.enableHTTP2, "enable-http2", false, "Serve HTTP/2 on the metrics and webhook servers (off by default: CVE-2023-44487, CVE-2023-39325).")
	fs.BoolVar(&c.leaderElect, "leader-elect", true, "Elect a leader so only one replica reconciles and fires schedules; the receiver runs on every replica.")
	fs.StringVar(&c.leaderElectID, "leader-election-id", "crmflow-manager.crmflow.io", "Name of the Lease used for leader election.")
	fs.StringVar(&c.leaderElectNS, "leader-election-namespace", "", "Namespace of the leader-election Lease (default: the namespace the manager runs in).")
	fs.StringVar(&c.crmSinkURL, "crm-sink-url", "", "Default CloudEvents sink of contact and CRM commands, for workflows without spec.connections.crm.sinkURL.")
	fs.IntVar(&c.maxHops, "max-hops", intake.DefaultMaxHops, "Refuse enrollment from an event that crmflow actions caused this many times in a row (loop prevention).")
	fs.Int64Var(&c.maxEventBytes, "max-event-bytes", intake.DefaultMaxBodyBytes, "Largest accepted request body and event data, in bytes; larger requests get 413.")
	fs.IntVar(&c.runWorkers, "run-workers", 16, "How many WorkflowRuns advance at once; more workers cut wake lateness when many waits end together.")
	fs.DurationVar(&c.secretMaxAge, "secret-max-age", 10*time.Second, "How long actions reuse a Secret they read (webhook URLs, SMTP and SMS credentials) before reading it again; a changed Secret takes effect within it. 0 reads it for every action.")
	fs.DurationVar(&c.maxEventAge, "max-event-age", intake.DefaultMaxEventAge, "Refuse (400) events whose time attribute is older than this.")
	fs.DurationVar(&c.maxClockSkew, "max-clock-skew", intake.DefaultMaxClockSkew, "Refuse (400) events whose time attribute is further ahead of the receiver's clock than this.")
	fs.DurationVar(&c.sigTolerance, "signature-tolerance", request.DefaultSignatureTolerance, "How far a signed event request's X-Crmflow-Timestamp may be from the receiver's clock, either way; older (replayed) or newer signed requests get 403.")
	fs.Func("egress-allow", "Comma-separated CIDRs, addresses and host names (.suffix for a domain) that HTTP actions may reach although the egress policy denies them by default (loopback, link-local/metadata); e.g. 127.0.0.1 for a local start. May be repeated.", func(v string) error {
		allow, err := actions.ParseEgressAllow(v)
		c.egressAllow = append(c.egressAllow, allow...)
		return err
	})
	fs.StringVar(&c.history.DSN, "history-dsn", "/var/lib/crmflow/history.db", "Run history store: a SQLite file path (the embedded default; put it on a PersistentVolumeClaim) or a postgres:// URL (from a Secret, as CRMFLOW_HISTORY_DSN). Finished runs are archived there as they finish and leave etcd --archive-grace later; archived events stay deduplicated. \"none\": no history (finished runs then stay for their workflow's ttlAfterFinished and history.limit).")
	fs.StringVar(&c.history.BindAddress, "history-bind-address", ":8444", "Address of the run history HTTPS API (callers authenticate with their Kubernetes token); \"0\" disables it.")
	fs.StringVar(&c.history.CertDir, "history-cert-dir", "", "Directory holding tls.crt and tls.key of the history API (default: a self-signed certificate).")
	fs.DurationVar(&c.history.Bounds.Retention, "history-retention", history.DefaultRetention, "How long the history store keeps finished runs and skipped events.")
	fs.Int64Var(&c.history.Bounds.MaxRuns, "history-max-runs", 0, "Keep at most this many runs in the history store, the oldest dropped first (0: no bound but retention).")
	fs.Int64Var(&c.history.Bounds.MaxBytes, "history-max-bytes", 0, "Keep the stored runs' encoded size at most this many bytes, the oldest dropped first (0: no bound but retention).")
	fs.DurationVar(&c.history.Grace, "archive-grace", archiver.DefaultGrace, "How long an archived run stays in etcd after it finishes (rounded up to 10 seconds), so watchers and kubectl wait see it finish.")
	c.zap.BindFlags(fs)
	if err := applyEnv(fs); err != nil {
		return c, err
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.maxHops < 1 {
		return c, fmt.Errorf("--max-hops must be at least 1, got %d", c.maxHops)
	}
	if c.secretMaxAge < 0 {
		return c, fmt.Errorf("--secret-max-age must not be negative, got %s", c.secretMaxAge)
	}
	if c.runWorkers < 1 {
		return c, fmt.Errorf("--run-workers must be at least 1, got %d", c.runWorkers)
	}
	if c.sigTolerance < time.Second {
		return c, fmt.Errorf("--signature-tolerance must be at least 1s, got %s", c.sigTolerance)
	}
	if c.maxEventBytes < 1024 {
		return c, fmt.Errorf("--max-event-bytes must be at least 1024, got %d", c.maxEventBytes)
	}
	return c, nil
}

// applyEnv sets each flag from CRMFLOW_<FLAG> when that variable is set.
func applyEnv(fs *flag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		name := "CRMFLOW_" + envName(f.Name)
		if v, ok := os.LookupEnv(name); ok && err == nil {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("environment %s=%q: %w", name, v, e)
			}
		}
	})
	return err
}

func envName(flagName string) string {
	b := []byte(flagName)
	for i, c := range b {
		switch {
		case c == '-':
			b[i] = '_'
		case c >= 'a' && c <= 'z':
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// ownPorts are the manager's listening ports, which HTTP actions may not
// reach on this host.
func (c *config) ownPorts() []int {
	ports := []int{c.webhookPort}
	for _, addr := range []string{c.metricsAddr, c.probeAddr, c.receiverAddr} {
		if _, p, err := net.SplitHostPort(addr); err == nil {
			if n, err := strconv.Atoi(p); err == nil && n > 0 {
				ports = append(ports, n)
			}
		}
	}
	return ports
}

func main() {
	c, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&c.zap)))
	if err := run(ctrl.SetupSignalHandler(), &c); err != nil {
		ctrl.Log.Error(err, "manager stopped")
		os.Exit(1)
	}
}

func run(ctx context.Context, c *config) error {
	log := ctrl.Log.WithName("setup")
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return fmt.Errorf("register Kubernetes types: %w", err)
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return fmt.Errorf("register crmflow types: %w", err)
	}

	var tlsOpts []func(*tls.Config)
	if !c.enableHTTP2 {
		tlsOpts = append(tlsOpts, func(t *tls.Config) { t.NextProtos = []string{"http/1.1"} })
	}
	metricsOpts := metricsserver.Options{BindAddress: c.metricsAddr, SecureServing: c.secureMetrics, TLSOpts: tlsOpts}
	if c.secureMetrics {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	restConfig := ctrl.GetConfigOrDie()
	if v := os.Getenv(faultinject.EnvVar); v != "" {
		// Test only (test/fault): make API writes fail on purpose.
		sp, err := faultinject.Parse(v)
		if err != nil {
			return err
		}
		log.Info("injecting faults into API writes", "seed", sp.Seed, "rate", sp.Rate)
		faultinject.Wrap(restConfig, sp, os.Stderr)
	}
	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsOpts,
		WebhookServer:           webhook.NewServer(webhook.Options{Port: c.webhookPort, CertDir: c.webhookCertDir, TLSOpts: tlsOpts}),
		HealthProbeBindAddress:  c.probeAddr,
		PprofBindAddress:        c.pprofAddr,
		LeaderElection:          c.leaderElect,
		LeaderElectionID:        c.leaderElectID,
		LeaderElectionNamespace: c.leaderElectNS,
		// The manager exits right after losing the lease, so a new leader
		// may start at once instead of waiting for the lease to expire.
		LeaderElectionReleaseOnCancel: true,
		Cache:                         controllers.CacheOptions(),
	})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}
	if err := index.Setup(ctx, mgr.GetFieldIndexer()); err != nil {
		return err
	}

	realClock := clock.RealClock{}
	engine := runner.New(runner.Options{
		Executor: actions.NewExecutor(actions.Config{Clock: realClock, Egress: &actions.EgressPolicy{
			Allow:     c.egressAllow,
			DenyPorts: c.ownPorts(),
		}}),
		CRMSinkURL: c.crmSinkURL,
		MaxHops:    int32(c.maxHops),
	})
	m, err := controllers.NewMetrics(metrics.Registry)
	if err != nil {
		return fmt.Errorf("register metrics: %w", err)
	}
	shared := controllers.NewShared(mgr)
	// The run history (when --history-dsn is set): finished runs are archived
	// and deleted from etcd by its archiver instead of by TTL and history
	// limit, and its event keys keep deduplication once a run has left etcd.
	store, err := historysetup.Setup(ctx, mgr, metrics.Registry, realClock, c.history)
	if err != nil {
		return fmt.Errorf("set up the run history: %w", err)
	}
	var dedup workflowrun.EventDeduper
	if store != nil {
		dedup = store
		defer func() { _ = store.Close() }()
	}
	if err := (&workflow.Reconciler{
		Client: mgr.GetClient(),
		Clock:  realClock,
		Compile: func(spec *v1alpha1.WorkflowSpec) error {
			return engine.Validate(spec, field.NewPath("spec")).ToAggregate()
		},
		Revisions: shared.Revisions,
		Counters:  shared.Counters,
		Recorder:  mgr.GetEventRecorder("crmflow-workflow"),
		Metrics:   m,

		FinishedRunsArchived: store != nil,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up the Workflow controller: %w", err)
	}
	if err := (&workflowrun.Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Clock:     realClock,
		Engine:    engine,
		Revisions: shared.Revisions,
		Counters:  shared.Counters,
		Secrets:   controllers.NewSecretReader(mgr.GetAPIReader(), c.secretMaxAge, realClock),
		Recorder:  mgr.GetEventRecorder("crmflow-workflowrun"),
		Metrics:   m,
		Dedup:     dedup,

		FinishedRunsArchived:    store != nil,
		ArchiveGrace:            c.history.Grace,
		MaxConcurrentReconciles: c.runWorkers,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up the WorkflowRun controller: %w", err)
	}
	if store == nil { // with a history store, its Setup adds the cleaner that waits for the archiver
		if err := mgr.Add(&workflowrun.RunCleaner{Client: mgr.GetClient(), Clock: realClock}); err != nil {
			return fmt.Errorf("add the finished-run cleaner: %w", err)
		}
	}
	if err := intake.Setup(mgr, intake.Options{
		Addr:               c.receiverAddr,
		Engine:             engine,
		Revisions:          shared.Revisions,
		Clock:              realClock,
		MaxBodyBytes:       c.maxEventBytes,
		MaxHops:            int32(c.maxHops),
		MaxEventAge:        c.maxEventAge,
		MaxClockSkew:       c.maxClockSkew,
		SignatureTolerance: c.sigTolerance,
		SkipLog:            skipLog(store),
	}); err != nil {
		return fmt.Errorf("set up the CloudEvents receiver: %w", err)
	}

	if c.consoleAddr != "" {
		var hist console.History
		if store != nil { // the history API's handler, called in process with each person's token
			hist = console.HandlerHistory{Handler: historyapi.NewServer(store, mgr.GetClient(),
				historyapi.Options{Clock: realClock, Log: ctrl.Log.WithName("console-history")})}
		}
		if err := console.AddToManager(mgr, c.consoleAddr, engine, hist); err != nil {
			return fmt.Errorf("set up the console: %w", err)
		}
	}

	if c.enableWebhooks {
		if err := crmwebhook.SetupWithManager(mgr, engine, crmwebhook.WithCRMSinkURL(c.crmSinkURL)); err != nil {
			return fmt.Errorf("set up admission webhooks: %w", err)
		}
	}

	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("add health check: %w", err)
	}
	// Ready once the informer caches synced: before that, intake could not
	// match events nor the controllers count runs.
	if err := mgr.AddReadyzCheck("readyz", func(req *http.Request) error {
		if !mgr.GetCache().WaitForCacheSync(req.Context()) {
			return fmt.Errorf("caches not synced")
		}
		return nil
	}); err != nil {
		return fmt.Errorf("add readiness check: %w", err)
	}

	log.Info("starting manager", "version", version, "leaderElection", c.leaderElect, "receiver", c.receiverAddr, "crmSinkURL", c.crmSinkURL)
	return mgr.Start(ctx)
}

// skipLog writes intake's skipped events to the run history store (capped
// per workflow per minute by the store), so "why didn't it fire for Ann?"
// has an answer after the fact; a store error is logged, never answered.
func skipLog(store history.Store) func(context.Context, []intake.SkippedEvent) {
	if store == nil {
		return nil
	}
	return func(ctx context.Context, events []intake.SkippedEvent) {
		skips := make([]history.Skip, len(events))
		for i := range events {
			e := &events[i]
			skips[i] = history.Skip{Namespace: e.Namespace, Workflow: e.Workflow, Reason: e.Reason.String(), EventID: e.EventID,
				EventSource: e.EventSource, Subject: e.Subject, Message: e.Message, Time: e.Time}
		}
		if _, err := store.RecordSkips(ctx, skips); err != nil {
			ctrl.LoggerFrom(ctx).Info("could not record skipped events in the run history", "error", err.Error())
		}
	}
}
