package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// manager is crmflow's manager binary, built from the repository, run as a
// child process against the local API server.
type manager struct {
	bin          string
	dir          string
	kubeconfig   string
	sinkURL      string
	receiverAddr string
	metricsAddr  string
	probeAddr    string
	extraArgs    []string
	proc         *process
	starts       int
}

// buildManager runs `go build -o <dir>/manager .` in root.
func buildManager(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "manager")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build the manager (go build -o %s . in %s): %w", bin, root, err)
	}
	return bin, nil
}

func newManager(bin, dir, kubeconfig, sinkURL string, extra []string) (*manager, error) {
	m := &manager{bin: bin, dir: dir, kubeconfig: kubeconfig, sinkURL: sinkURL, extraArgs: extra}
	for _, p := range []*string{&m.receiverAddr, &m.metricsAddr, &m.probeAddr} {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		*p = fmt.Sprintf("127.0.0.1:%d", port)
	}
	return m, nil
}

// start starts the manager and waits until /readyz answers (caches synced)
// and the receiver accepts connections.
func (m *manager) start(ctx context.Context) error {
	m.starts++
	args := append([]string{
		"--leader-elect=false",
		"--enable-webhooks=false",
		"--crm-sink-url=" + m.sinkURL + "/crm",
		"--receiver-bind-address=" + m.receiverAddr,
		"--metrics-bind-address=" + m.metricsAddr,
		"--health-probe-bind-address=" + m.probeAddr,
		// The sink is on loopback, which the egress policy refuses by default.
		"--egress-allow=127.0.0.1",
		// The run history (on by default) in this benchmark's own directory.
		"--history-dsn=" + filepath.Join(m.dir, "history.db"),
		"--history-bind-address=0",
	}, m.extraArgs...)
	p, err := startProcess(m.dir, fmt.Sprintf("manager-%d", m.starts), m.bin, args, []string{"KUBECONFIG=" + m.kubeconfig})
	if err != nil {
		return err
	}
	m.proc = p
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if !p.running() {
			if p.err != nil {
				return fmt.Errorf("the manager exited (%w):\n%s", p.err, p.tail(30))
			}
			return fmt.Errorf("the manager exited with status 0:\n%s", p.tail(30))
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+m.probeAddr+"/readyz", nil)
		if resp, err := hc.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the manager was not ready after 3m:\n%s", p.tail(30))
		}
		time.Sleep(100 * time.Millisecond) // polling a starting process
	}
	return nil
}

// stop sends SIGTERM and waits for the manager to exit.
func (m *manager) stop() {
	if m == nil || m.proc == nil {
		return
	}
	m.proc.stop(30 * time.Second)
}

// errorLines counts the error-level lines the manager logged so far (zap
// JSON lines with "level":"error").
func (m *manager) errorLines() int {
	if m.proc == nil {
		return 0
	}
	return m.proc.logLinesMatching(`"level":"error"`)
}

func (m *manager) pid() int { return m.proc.pid() }
