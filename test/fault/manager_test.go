//go:build !unit

package fault

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// logBuffer collects a manager's output, safe for concurrent writes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// tail is the end of the log, for failure messages.
func (b *logBuffer) tail() string {
	s := b.String()
	if len(s) > 4000 {
		s = s[len(s)-4000:]
	}
	return s
}

// manager runs the built manager binary, one process at a time.
type manager struct {
	t          *testing.T
	bin        string
	kubeconfig string
	receiver   string
	probe      string
	egress     string
	cmd        *exec.Cmd
	log        *logBuffer
	// logs of every process, in order.
	logs []*logBuffer
}

// buildManager compiles the manager (the module's root package) into dir.
func buildManager(t *testing.T, root, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "manager")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go build the manager: %v\n%s", err, out)
	}
	return bin
}

// writeKubeconfig writes a kubeconfig for cfg (client certificate).
func writeKubeconfig(t *testing.T, path string, cfg *rest.Config) {
	t.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData}
	kc.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "admin"}
	kc.CurrentContext = "envtest"
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String()
}

// start runs a new manager process with extra environment and waits until
// its receiver is ready.
func (m *manager) start(env ...string) {
	m.t.Helper()
	m.log = &logBuffer{}
	m.logs = append(m.logs, m.log)
	m.cmd = exec.Command(m.bin,
		"--leader-elect=false",
		"--enable-webhooks=false",
		"--metrics-bind-address=0",
		"--receiver-bind-address="+m.receiver,
		"--health-probe-bind-address="+m.probe,
		"--egress-allow="+m.egress,
		"--run-workers=8",
		// The run history on a file of this test: runs are archived, then leave etcd.
		"--history-dsn="+filepath.Join(filepath.Dir(m.kubeconfig), "history.db"),
		"--history-bind-address=0",
	)
	m.cmd.Env = append(append(os.Environ(), "KUBECONFIG="+m.kubeconfig), env...)
	m.cmd.Stdout, m.cmd.Stderr = m.log, m.log
	if err := m.cmd.Start(); err != nil {
		m.t.Fatalf("start the manager: %v", err)
	}
	NewWithT(m.t).Eventually(func() (int, error) {
		resp, err := http.Get("http://" + m.receiver + "/readyz")
		if err != nil {
			return 0, err
		}
		_ = resp.Body.Close()
		return resp.StatusCode, nil
	}).WithTimeout(90*time.Second).WithPolling(200*time.Millisecond).Should(Equal(http.StatusOK), m.log.tail)
}

// kill SIGKILLs the manager and reaps it.
func (m *manager) kill() {
	m.t.Helper()
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGKILL)
	_ = m.cmd.Wait()
	m.cmd = nil
}

// count counts lines containing s across every process's log.
func (m *manager) count(s string) int {
	n := 0
	for _, l := range m.logs {
		n += strings.Count(l.String(), s)
	}
	return n
}

func (m *manager) String() string { return fmt.Sprintf("manager on %s", m.receiver) }
