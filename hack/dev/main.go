// Command dev starts crmflow for real on this machine: a local kube-apiserver
// and etcd (the binaries hack/build-control-plane.sh built), crmflow's CRDs, a
// kubeconfig under bin/dev, a local "CRM" that prints what crmflow sends (a
// CloudEvents sink, notification hooks and an SMTP mailbox on 127.0.0.1), the
// manager binary with its CloudEvents receiver, and the sample workflows.
//
// Ctrl-C stops every process it started. `make dev` builds what is missing and runs it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/crmflow/crmflow/test/testenv"
)

type options struct {
	root         string
	manager      string
	namespace    string
	receiverAddr string
	consoleAddr  string
	sinkAddr     string
	smtpAddr     string
	metricsAddr  string
	probeAddr    string
	exitAfter    time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.root, "root", ".", "repository root (config/crd, config/samples, bin/)")
	flag.StringVar(&o.manager, "manager", "bin/manager", "manager binary to run")
	flag.StringVar(&o.namespace, "namespace", "default", "namespace the samples are applied to")
	flag.StringVar(&o.receiverAddr, "receiver-addr", "127.0.0.1:8080", "address of crmflow's CloudEvents receiver")
	flag.StringVar(&o.consoleAddr, "console-addr", "127.0.0.1:8089", "address of the web console (empty: no console)")
	flag.StringVar(&o.sinkAddr, "sink-addr", "127.0.0.1:8090", "address of the local CRM (CloudEvents sink and notification hooks)")
	flag.StringVar(&o.smtpAddr, "smtp-addr", "127.0.0.1:2525", "address of the local SMTP mailbox")
	flag.StringVar(&o.metricsAddr, "metrics-addr", "127.0.0.1:8091", "manager metrics address")
	flag.StringVar(&o.probeAddr, "probe-addr", "127.0.0.1:8092", "manager health probe address")
	flag.DurationVar(&o.exitAfter, "exit-after", 0, "stop by itself this long after everything is up (for smoke tests); 0 waits for Ctrl-C")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "crmflow dev:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) (err error) {
	root, err := filepath.Abs(o.root)
	if err != nil {
		return err
	}
	devDir := filepath.Join(root, "bin", "dev")
	if err := os.MkdirAll(devDir, 0o755); err != nil {
		return err
	}

	say("starting kube-apiserver and etcd from %s", testenv.AssetsDir(root))
	env := testenv.New(root)
	cfg, err := env.Start()
	if err != nil {
		return fmt.Errorf("start control plane: %w", err)
	}
	defer func() {
		say("stopping kube-apiserver and etcd")
		if stopErr := env.Stop(); stopErr != nil && err == nil {
			err = fmt.Errorf("stop control plane: %w", stopErr)
		}
	}()

	kubeconfig := filepath.Join(devDir, "kubeconfig")
	if err := writeKubeconfig(env, kubeconfig); err != nil {
		return err
	}

	crm, err := startLocalCRM(o.sinkAddr, o.smtpAddr)
	if err != nil {
		return err
	}
	defer crm.Close()

	if err := applySamples(ctx, cfg, root, o.namespace, crm); err != nil {
		return err
	}

	mgr, err := startManager(root, o, kubeconfig, crm)
	if err != nil {
		return err
	}
	defer mgr.stop()

	consoleURL := ""
	if o.consoleAddr != "" {
		if consoleURL, err = startConsole(ctx, cfg, o.consoleAddr, o.namespace, crm.SinkURL()); err != nil {
			return err
		}
	}

	printWelcome(o, kubeconfig, consoleURL)

	var timeout <-chan time.Time
	if o.exitAfter > 0 {
		timeout = time.After(o.exitAfter)
	}
	select {
	case <-ctx.Done():
		say("interrupted; shutting down")
	case <-timeout:
		say("--exit-after elapsed; shutting down")
	case <-mgr.exited:
		return errors.New("the manager exited; see its log above")
	}
	return nil
}

// managerProcess is the manager binary running as a child process.
type managerProcess struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

func startManager(root string, o options, kubeconfig string, crm *localCRM) (*managerProcess, error) {
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
		"--enable-webhooks=false",
		// The local CRM sink and test targets listen on 127.0.0.1, which the
		// egress policy refuses unless allowed.
		"--egress-allow=127.0.0.1",
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	cmd.Stdout = prefixWriter("[manager] ", os.Stdout)
	cmd.Stderr = prefixWriter("[manager] ", os.Stderr)
	// Its own process group: Ctrl-C reaches us, and we stop it in order.
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

func (p *managerProcess) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	say("stopping the manager (pid %d)", p.cmd.Process.Pid)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

func printWelcome(o options, kubeconfig, consoleURL string) {
	if consoleURL != "" {
		fmt.Printf("\nThe web console (build, test, activate, watch runs): %s\n", consoleURL)
	}
	fmt.Printf(`
================================================================================
crmflow is running.

  export KUBECONFIG=%[1]s
  kubectl get workflows            # the samples, Active
  kubectl get workflowruns -w      # runs appear here

Send an event (a VIP starts a conversation):

  curl -si http://%[2]s/v1/namespaces/%[3]s/events \
    -H 'Content-Type: application/json' \
    -H 'ce-specversion: 1.0' -H 'ce-id: demo-1' -H 'ce-source: demo/cli' \
    -H 'ce-type: conversation.started' -H 'ce-subject: c-42' \
    -d '{"conversation":{"id":"conv-1","contactId":"c-42","channel":"chat"},
         "contact":{"id":"c-42","firstName":"Ann","lastName":"Lee","email":"ann@example.com","tags":["VIP"]}}'

  kubectl describe workflowrun     # the execution log

What crmflow sends to the CRM, the notification hooks and the mailbox is
printed below with the prefix [crm]. Ctrl-C stops everything.
================================================================================
`, kubeconfig, o.receiverAddr, o.namespace)
}

func say(format string, args ...any) {
	fmt.Printf("[dev] "+format+"\n", args...)
}
