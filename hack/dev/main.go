// Command dev starts crmflow for real on this machine: a local kube-apiserver
// and etcd (the binaries hack/build-control-plane.sh built), crmflow's CRDs, a
// kubeconfig, a local "CRM" that prints what crmflow sends (a CloudEvents sink,
// notification, SMS, webhook and Zapier hooks, and an SMTP server on
// 127.0.0.1), the manager binary with its CloudEvents receiver and its
// admission webhooks (served with a generated certificate and registered with
// the local API server), and the sample workflows.
//
// Everything it keeps lives in the state directory (bin/dev by default): etcd's
// data, the certificates, the kubeconfig and the control plane's logs, so a
// run waiting for an hour is still there after a restart; `make dev-reset`
// wipes it. Ctrl-C (or SIGTERM) stops every process it started, each of which
// runs in its own process group, and exits 0; so does any failed start, which
// exits 1 without leaving a process behind.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/crmflow/crmflow/internal/controlplane"
)

// defaultStartTimeout is how long etcd, kube-apiserver and the manager may
// each take to come up: generous, because a loaded two-core machine needs
// minutes where an idle one needs seconds.
const defaultStartTimeout = 10 * time.Minute

type options struct {
	root         string
	stateDir     string
	webhookPort  int
	startTimeout time.Duration
	manager      string
	plugin       string
	namespace    string
	receiverAddr string
	consoleAddr  string
	sinkAddr     string
	smtpAddr     string
	metricsAddr  string
	probeAddr    string
	historyAddr  string
	exitAfter    time.Duration
}

func main() {
	o, err := parseOptions(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "crmflow dev:", err)
		os.Exit(2)
	}
	// controller-runtime (envtest, the client) logs through this; without it
	// the first log line prints a "log.SetLogger(...) was never called" stack.
	ctrllog.SetLogger(zap.New(zap.WriteTo(prefixWriter("[dev] ", os.Stderr))))

	// Caught for the whole run, so a second Ctrl-C cannot cut the shutdown short.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, o)
	// Last line of defence: whatever path we took, no child outlives us.
	killChildren()
	if err != nil && ctx.Err() != nil {
		// Ctrl-C while a start-up step was waiting: an interruption, not a failure.
		say("interrupted during start-up (%v); everything is stopped", err)
		err = nil
	}
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "crmflow dev:", err)
		os.Exit(1)
	}
}

func parseOptions(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `crmflow dev: start crmflow for real on this machine (what `+"`make dev`"+` runs).

Starts etcd and kube-apiserver (state kept in --state-dir across restarts), installs the CRDs,
runs the manager with its CloudEvents receiver and admission webhooks, a stand-in CRM, and
applies the samples. Ctrl-C stops everything and exits 0.

Usage: crmflow-dev [flags]     (make dev DEV_FLAGS='--flag=value ...')

Flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.root, "root", ".", "repository root (config/crd, config/samples, bin/)")
	fs.StringVar(&o.stateDir, "state-dir", "", "where etcd's data, certificates, the kubeconfig and logs are kept across restarts (default <root>/bin/dev; make dev-reset wipes it)")
	fs.StringVar(&o.manager, "manager", "bin/manager", "manager binary to run")
	fs.StringVar(&o.plugin, "plugin", "bin/kubectl-crmflow", "the kubectl plugin (make plugin builds it); the banner puts its directory on PATH")
	fs.StringVar(&o.namespace, "namespace", "default", "namespace the samples are applied to")
	fs.StringVar(&o.receiverAddr, "receiver-addr", "127.0.0.1:8080", "address of crmflow's CloudEvents receiver")
	fs.StringVar(&o.consoleAddr, "console-addr", "127.0.0.1:8089", "address of the web console (empty: no console)")
	fs.StringVar(&o.sinkAddr, "sink-addr", "127.0.0.1:8070", "address of the local CRM (CloudEvents sink, notification, SMS, webhook and Zapier hooks)")
	fs.StringVar(&o.smtpAddr, "smtp-addr", "127.0.0.1:2525", "address of the local SMTP server")
	fs.StringVar(&o.metricsAddr, "metrics-addr", "127.0.0.1:8091", "manager metrics address")
	fs.StringVar(&o.probeAddr, "probe-addr", "127.0.0.1:8092", "manager health probe address")
	fs.IntVar(&o.webhookPort, "webhook-port", 9443, "port of the manager's admission webhooks")
	fs.StringVar(&o.historyAddr, "history-addr", "127.0.0.1:8444", "address of the manager's run history API (HTTPS)")
	timeout := defaultStartTimeout
	if v := os.Getenv("CRMFLOW_DEV_START_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return o, fmt.Errorf("CRMFLOW_DEV_START_TIMEOUT=%q: %w", v, err)
		}
		timeout = d
	}
	fs.DurationVar(&o.startTimeout, "start-timeout", timeout, "how long etcd, kube-apiserver and the manager may each take to start (env CRMFLOW_DEV_START_TIMEOUT)")
	fs.DurationVar(&o.exitAfter, "exit-after", 0, "stop by itself this long after everything is up (for smoke tests); 0 waits for Ctrl-C")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.startTimeout <= 0 {
		return o, fmt.Errorf("--start-timeout must be positive, got %s", o.startTimeout)
	}
	return o, nil
}

func run(ctx context.Context, o options) (err error) {
	root, err := filepath.Abs(o.root)
	if err != nil {
		return err
	}
	state := o.stateDir
	if state == "" {
		state = filepath.Join(root, "bin", "dev")
	}
	if state, err = filepath.Abs(state); err != nil {
		return err
	}
	if err := os.MkdirAll(state, 0o755); err != nil {
		return err
	}
	// Ports the manager will bind: refuse at once rather than after minutes of start-up.
	wh := webhookAddr(o.webhookPort)
	ports := []struct{ flag, addr string }{
		{"--receiver-addr", o.receiverAddr}, {"--metrics-addr", o.metricsAddr},
		{"--probe-addr", o.probeAddr}, {"--webhook-port", wh},
	}
	if o.historyAddr != "" && o.historyAddr != "0" {
		ports = append(ports, struct{ flag, addr string }{"--history-addr", o.historyAddr})
	}
	for _, p := range ports {
		if err := portFree(p.addr); err != nil {
			return fmt.Errorf("%s %s: %w (stop what holds it, or choose another with %s)", p.flag, p.addr, err, p.flag)
		}
	}
	certs, err := ensureWebhookCerts(filepath.Join(state, "webhook"), time.Now())
	if err != nil {
		return err
	}

	crm, err := startLocalCRM(o.sinkAddr, o.smtpAddr)
	if err != nil {
		return err
	}
	defer crm.Close()

	say("starting etcd (data kept in %s) and kube-apiserver from %s; waiting up to %s (--start-timeout)",
		filepath.Join(state, "etcd"), controlplane.AssetsDir(root), o.startTimeout)
	cp, err := startControlPlane(ctx, root, state, o.startTimeout)
	if errors.Is(err, context.Canceled) {
		say("interrupted during start-up; everything is stopped")
		return nil
	}
	if err != nil {
		return err
	}
	cpChildren := children()
	defer func() {
		say("stopping kube-apiserver and etcd")
		if stopErr := cp.stop(); stopErr != nil && err == nil {
			err = stopErr
		}
	}()
	cfg, err := cp.config()
	if err != nil {
		return err
	}
	kubeconfig := filepath.Join(state, "kubeconfig")
	if err := writeKubeconfig(cfg, kubeconfig); err != nil {
		return err
	}
	say("installing the CRDs")
	if _, err := envtest.InstallCRDs(cfg, envtest.CRDInstallOptions{
		Paths: []string{filepath.Join(root, "config", "crd", "bases")}, ErrorIfPathMissing: true,
		MaxTime: o.startTimeout,
	}); err != nil {
		return fmt.Errorf("install CRDs: %w", err)
	}
	c, err := newClient(cfg)
	if err != nil {
		return err
	}

	mgr, err := startManager(root, o, kubeconfig, crm, certs.dir, filepath.Join(state, "history.db"))
	if err != nil {
		return err
	}
	defer mgr.stop()
	say("waiting for the manager's admission webhooks on https://%s", wh)
	wctx, cancel := context.WithTimeout(ctx, o.startTimeout)
	err = waitForWebhookServer(wctx, wh, certs.caPEM, mgr.exited)
	cancel()
	if ctx.Err() != nil {
		say("interrupted during start-up; shutting down")
		return nil
	}
	if err != nil {
		return fmt.Errorf("wait for the webhook server: %w", err)
	}
	if err := registerWebhooks(ctx, c, filepath.Join(root, "config", "webhook", "manifests.yaml"), wh, certs.caPEM); err != nil {
		return err
	}
	samples, err := applySamples(ctx, c, root, state, o.namespace, crm)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	consoleURL := ""
	if o.consoleAddr != "" {
		historyURL := ""
		if o.historyAddr != "" && o.historyAddr != "0" {
			historyURL = "https://" + o.historyAddr
		}
		if consoleURL, err = startConsole(ctx, cfg, o.consoleAddr, o.namespace, crm.SinkURL(), historyURL, filepath.Join(certs.dir, "ca.crt")); err != nil {
			return err
		}
	}

	printWelcome(o, root, kubeconfig, crm, consoleURL, filepath.Join(certs.dir, "ca.crt"), samples)

	var timeout <-chan time.Time
	if o.exitAfter > 0 {
		timeout = time.After(o.exitAfter)
	}
	watch := time.NewTicker(2 * time.Second)
	defer watch.Stop()
	for {
		select {
		case <-ctx.Done():
			say("interrupted; shutting down")
			return nil
		case <-timeout:
			say("--exit-after elapsed; shutting down")
			return nil
		case <-mgr.exited:
			return errors.New("the manager exited; see its log above")
		case <-watch.C:
			for _, ch := range cpChildren {
				if !alive(ch.pid) {
					return fmt.Errorf("a control-plane process (pid %d) exited; its log is in %s", ch.pid, filepath.Join(state, "logs"))
				}
			}
		}
	}
}

// portFree reports an error when addr cannot be listened on.
func portFree(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("address in use or unavailable: %w", err)
	}
	return ln.Close()
}

// alive reports whether pid is a live (not zombie) process.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == ')' {
			return i+2 < len(b) && b[i+2] != 'Z'
		}
	}
	return false
}

// newClient is a client for the local API server with crmflow's types.
func newClient(cfg *rest.Config) (client.Client, error) {
	scheme, err := controlplane.Scheme()
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("client for the local API server: %w", err)
	}
	return c, nil
}

// managerProcess is the manager binary running as a child process.
type managerProcess struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

func startManager(root string, o options, kubeconfig string, crm *localCRM, certDir, historyDB string) (*managerProcess, error) {
	bin := o.manager
	if !filepath.IsAbs(bin) {
		bin = filepath.Join(root, bin)
	}
	args := []string{
		"--leader-elect=false",
		"--receiver-bind-address=" + o.receiverAddr,
		"--metrics-bind-address=" + o.metricsAddr,
		"--health-probe-bind-address=" + o.probeAddr,
		"--crm-sink-url=" + crm.SinkURL(),
		"--enable-webhooks=true",
		"--webhook-port=" + strconv.Itoa(o.webhookPort),
		"--webhook-cert-dir=" + certDir,
		// The local CRM sink and test targets listen on 127.0.0.1, which the
		// egress policy refuses unless allowed.
		"--egress-allow=127.0.0.1",
		// The run history survives restarts beside etcd's data; its API on loopback only.
		"--history-dsn=" + historyDB,
		"--history-bind-address=" + o.historyAddr,
		// Served with the local CA's certificate (127.0.0.1, localhost), so
		// the plugin verifies it with CRMFLOW_HISTORY_CA_FILE.
		"--history-cert-dir=" + certDir,
		// Finished runs stay in etcd an hour here, so kubectl describe finds
		// the run of the event you just sent (production default: 10s, then
		// kubectl crmflow history reads it from the store).
		"--archive-grace=1h",
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(managerEnv(), "KUBECONFIG="+kubeconfig)
	cmd.Stdout = prefixWriter("[manager] ", os.Stdout)
	cmd.Stderr = prefixWriter("[manager] ", os.Stderr)
	// Its own process group: Ctrl-C reaches us, we stop it in order; it dies with us.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	say("starting the manager: %s", bin)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start manager %s: %w", bin, err)
	}
	p := &managerProcess{cmd: cmd, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// managerEnv is this process's environment without CRMFLOW_* variables, which
// would override the flags the local start gives the manager.
func managerEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CRMFLOW_") {
			env = append(env, kv)
		}
	}
	return env
}

func (p *managerProcess) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	say("stopping the manager (pid %d)", p.cmd.Process.Pid)
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.exited
	}
}

func printWelcome(o options, root, kubeconfig string, crm *localCRM, consoleURL, caFile string, samples samplesResult) {
	host, port := crm.SMTPHostPort()
	// The lines to paste into a fresh shell: the kubeconfig; PATH with the
	// plugin (kubectl crmflow) and the kubectl built with the control plane;
	// and the history API that kubectl crmflow history/contact/stats read
	// archived runs from (with the kubeconfig's token).
	env := "  export KUBECONFIG=" + shellQuote(kubeconfig) + "\n"
	plugin := o.plugin
	if !filepath.IsAbs(plugin) {
		plugin = filepath.Join(root, plugin)
	}
	pathDirs := []string{}
	if _, err := os.Stat(plugin); err == nil {
		pathDirs = append(pathDirs, shellQuote(filepath.Dir(plugin)))
	} else {
		say("no kubectl plugin at %s: build it with make plugin (make dev does) for the kubectl crmflow commands below", plugin)
	}
	if _, err := os.Stat(filepath.Join(controlplane.AssetsDir(root), "kubectl")); err == nil {
		pathDirs = append(pathDirs, shellQuote(controlplane.AssetsDir(root)))
	}
	if len(pathDirs) > 0 {
		env += "  export PATH=" + strings.Join(pathDirs, ":") + ":$PATH\n"
	}
	if o.historyAddr != "" && o.historyAddr != "0" {
		env += fmt.Sprintf("  export CRMFLOW_HISTORY_URL=https://%s CRMFLOW_HISTORY_CA_FILE=%s\n", o.historyAddr, shellQuote(caFile))
	}
	hints := ""
	for _, h := range samples.hints {
		hints += "\nNote: " + h + "\n"
	}
	if consoleURL != "" {
		fmt.Printf("\nThe web console (build, test, activate, watch runs): %s\n", consoleURL)
	}
	fmt.Printf(`
================================================================================
crmflow is running. State (etcd data, certificates, logs) is kept in
%[5]s across restarts; `+"`make dev-reset`"+` wipes it.

In a new shell:

%[8]s
  kubectl get workflows            # the samples, Active
  kubectl get workflowruns -w      # runs appear here
  kubectl apply -f my-workflow.yaml   # validated by the admission webhooks

The samples, with their email aimed at the local mailbox, are in %[9]s/:
edit one and apply it (config/samples points at a placeholder SMTP host, for real clusters):

  kubectl apply -f %[9]s/crmflow_v1alpha1_lead-follow-up.yaml
%[10]s
Send an event (a VIP starts a conversation):

  curl -si http://%[2]s/v1/namespaces/%[3]s/events \
    -H 'Content-Type: application/json' \
    -H 'ce-specversion: 1.0' -H 'ce-id: demo-1' -H 'ce-source: demo/cli' \
    -H 'ce-type: conversation.started' -H 'ce-subject: c-42' \
    -d '{"conversation":{"id":"conv-1","contactId":"c-42","channel":"chat"},
         "contact":{"id":"c-42","firstName":"Ann","lastName":"Lee","email":"ann@example.com","tags":["VIP"]}}'

  kubectl describe workflowrun     # the execution log (finished runs stay an hour here)
  kubectl crmflow history <run>    # the same, also once the run has left etcd
  kubectl crmflow test --workflow vip-routing --contact c-42 -n %[3]s   # what it would do now

The local CRM prints everything crmflow sends, with the prefix [crm]. Point
your workflows at it:

  contact/CRM commands  http://%[4]s/crm             (the manager's --crm-sink-url; connections.crm.sinkURL)
  notify                http://%[4]s/notify/<name>   (Secret crmflow-notify: vip-support-url, support-url, sales-url)
  sendSMS               http://%[4]s/sms             (connections.sms.url; format JSON or Twilio)
  callWebhook           http://%[4]s/webhook/<name>  (url, or urlFrom Secret crmflow-hooks key webhook-url)
  updateExternalCRM     http://%[4]s/webhook/<name>  (url, or urlFrom Secret crmflow-hooks key external-crm-url)
  triggerZapier         http://%[4]s/zapier/<name>   (hookURLSecretRef: Secret crmflow-hooks key zapier-url)
  sendEmail             SMTP %[6]s port %[7]d       (connections.smtp: {host: %[6]s, port: %[7]d, tls: None}, no credentials)

Ctrl-C stops everything.
================================================================================
`, kubeconfig, o.receiverAddr, o.namespace, crm.sinkAddr, filepath.Dir(kubeconfig), host, port,
		strings.TrimRight(env, "\n"), shellQuote(samples.dir), hints)
}

func say(format string, args ...any) {
	fmt.Printf("[dev] "+format+"\n", args...)
}
