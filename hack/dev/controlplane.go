package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/crmflow/crmflow/internal/controlplane"
)

// controlPlane is etcd and kube-apiserver, each in its own process group,
// with every file they keep under the state directory: etcd's data survives
// a restart, so runs waiting in etcd are still there next time.
type controlPlane struct {
	cp    *envtest.ControlPlane
	logs  []*os.File
	token string // the dev user's bearer token
}

// devUser is the local start's admin (group system:masters).
const devUser = "crmflow-dev"

// newToken is a random bearer token.
func newToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("make a token for the dev user: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// startControlPlane starts etcd (data in <state>/etcd) and kube-apiserver
// (certificates in <state>/apiserver), waiting up to timeout for each. It
// gives up early when ctx ends (Ctrl-C during start-up). On any error every
// process it started is stopped before it returns.
func startControlPlane(ctx context.Context, root, state string, timeout time.Duration) (*controlPlane, error) {
	assets := controlplane.AssetsDir(root)
	for _, bin := range []string{"etcd", "kube-apiserver", "kubectl"} {
		if _, err := os.Stat(filepath.Join(assets, bin)); err != nil {
			return nil, fmt.Errorf("control-plane binary %s missing in %s (run `make control-plane` or set KUBEBUILDER_ASSETS): %w", bin, assets, err)
		}
	}
	etcdDir, certDir := filepath.Join(state, "etcd"), filepath.Join(state, "apiserver")
	// kube-apiserver's certificates are made anew each start (envtest only
	// learns its CA when it makes them); etcd's data is what persists.
	if err := os.RemoveAll(certDir); err != nil {
		return nil, fmt.Errorf("clear %s: %w", certDir, err)
	}
	for _, d := range []string{etcdDir, certDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create %s: %w", d, err)
		}
	}
	logs, err := openLogs(state, "etcd", "apiserver")
	if err != nil {
		return nil, err
	}
	etcd := &envtest.Etcd{
		Path:         filepath.Join(assets, "etcd"),
		DataDir:      etcdDir,
		StartTimeout: timeout,
		StopTimeout:  30 * time.Second,
		Out:          logs[0],
		Err:          logs[0],
	}
	// Waits must survive a restart: keep fsync on (envtest turns it off).
	etcd.Configure().Set("unsafe-no-fsync", "false")
	api := &envtest.APIServer{
		Path:         filepath.Join(assets, "kube-apiserver"),
		CertDir:      certDir,
		StartTimeout: timeout,
		StopTimeout:  30 * time.Second,
		Out:          logs[1],
		Err:          logs[1],
	}
	// The dev user also gets a bearer token (a static token file, made anew
	// each start like the certificates): crmflow's run history API
	// authenticates callers by their Kubernetes token, so
	// `kubectl crmflow history` needs one in the kubeconfig.
	token, err := newToken()
	if err != nil {
		return nil, err
	}
	tokenFile := filepath.Join(certDir, "tokens.csv")
	if err := os.WriteFile(tokenFile, []byte(token+`,`+devUser+`,`+devUser+`,"system:masters"`+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", tokenFile, err)
	}
	api.Configure().Set("token-auth-file", tokenFile)
	c := &controlPlane{cp: &envtest.ControlPlane{Etcd: etcd, APIServer: api, KubectlPath: filepath.Join(assets, "kubectl")}, logs: logs, token: token}

	started := make(chan error, 1)
	go func() {
		// envtest panics on some half-started states; a panic here would
		// leave etcd and kube-apiserver running, so it becomes an error.
		defer func() {
			if r := recover(); r != nil {
				started <- fmt.Errorf("envtest: %v", r)
			}
		}()
		started <- c.cp.Start()
	}()
	tick := time.NewTicker(15 * time.Second)
	defer tick.Stop()
	begin := time.Now()
	for {
		select {
		case err := <-started:
			if err != nil {
				_ = c.stop()
				showLogTails(logs)
				return nil, fmt.Errorf("start etcd and kube-apiserver (waited %s of --start-timeout %s): %w",
					time.Since(begin).Round(time.Second), timeout, err)
			}
			return c, nil
		case <-tick.C:
			say("still waiting for etcd and kube-apiserver (%s of %s; a loaded machine can take minutes)",
				time.Since(begin).Round(time.Second), timeout)
		case <-ctx.Done():
			// envtest's Start cannot be cancelled: end its children so it returns at once.
			killChildren()
			if err := <-started; err != nil {
				say("control plane start ended: %v", err)
			}
			_ = c.stop()
			return nil, ctx.Err()
		}
	}
}

// config is an admin client configuration for the API server.
func (c *controlPlane) config() (*rest.Config, error) {
	user, err := c.cp.AddUser(envtest.User{Name: devUser, Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, fmt.Errorf("create the dev user: %w", err)
	}
	cfg := user.Config()
	cfg.BearerToken = c.token
	return cfg, nil
}

// stop stops kube-apiserver, then etcd; the state directory stays.
func (c *controlPlane) stop() error {
	var errs []error
	if err := c.cp.APIServer.Stop(); err != nil {
		errs = append(errs, fmt.Errorf("stop kube-apiserver: %w", err))
	}
	if err := c.cp.Etcd.Stop(); err != nil {
		errs = append(errs, fmt.Errorf("stop etcd: %w", err))
	}
	for _, f := range c.logs {
		_ = f.Close()
	}
	return errors.Join(errs...)
}

// openLogs truncates and opens <state>/logs/<name>.log for each name: the
// control plane is too chatty for the terminal, and its log is there to read
// when something fails.
func openLogs(state string, names ...string) ([]*os.File, error) {
	dir := filepath.Join(state, "logs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	var out []*os.File
	for _, n := range names {
		f, err := os.Create(filepath.Join(dir, n+".log"))
		if err != nil {
			for _, o := range out {
				_ = o.Close()
			}
			return nil, fmt.Errorf("open log: %w", err)
		}
		out = append(out, f)
	}
	return out, nil
}

// showLogTails prints the last lines of each log, where the reason a start
// failed usually is.
func showLogTails(logs []*os.File) {
	for _, f := range logs {
		b, err := os.ReadFile(f.Name())
		if err != nil || len(b) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		if len(lines) > 15 {
			lines = lines[len(lines)-15:]
		}
		say("last lines of %s:", f.Name())
		for _, l := range lines {
			fmt.Println("    " + l)
		}
	}
}
