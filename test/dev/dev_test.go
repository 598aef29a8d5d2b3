// Package dev proves the README's local start: `make dev` brings up the API
// server, etcd, the manager with its receiver and the samples; an event sent
// as the banner says reaches the stand-in CRM; and Ctrl-C leaves no process behind.
package dev

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/crmflow/crmflow/test/testenv"
)

// output collects a process's output for Eventually.
type output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// descendants lists the live processes below pid, read from /proc.
func descendants(pid int) []int {
	parent := map[int]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces, so split after the last ')'.
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) < 2 || fields[0] == "Z" {
			continue
		}
		ppid, _ := strconv.Atoi(fields[1])
		parent[p] = ppid
	}
	var out []int
	for p := range parent {
		for q := parent[p]; q > 1; q = parent[q] {
			if q == pid {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

func TestLocalStartServesAnEventAndCtrlCLeavesNothing(t *testing.T) {
	g := NewWithT(t)
	root, err := filepath.Abs(filepath.Join("..", ".."))
	g.Expect(err).NotTo(HaveOccurred())
	tmp := t.TempDir()

	build := func(out, pkg string) {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Dir = root
		b, err := cmd.CombinedOutput()
		g.Expect(err).NotTo(HaveOccurred(), "go build %s: %s", pkg, b)
	}
	build(filepath.Join(tmp, "manager"), ".")
	build(filepath.Join(tmp, "dev"), "./hack/dev")

	receiver, consoleAddr := freeAddr(t), freeAddr(t)
	out := &output{}
	cmd := exec.Command(filepath.Join(tmp, "dev"),
		"--root", root,
		"--manager", filepath.Join(tmp, "manager"),
		"--namespace", "dev-smoke",
		"--receiver-addr", receiver,
		"--sink-addr", freeAddr(t),
		"--smtp-addr", freeAddr(t),
		"--metrics-addr", freeAddr(t),
		"--probe-addr", freeAddr(t),
		"--console-addr", consoleAddr,
	)
	cmd.Stdout, cmd.Stderr = out, out
	g.Expect(cmd.Start()).To(Succeed())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			// Stop it as Ctrl-C would, so its control plane does not outlive a failed test.
			_ = cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
			}
		}
		if t.Failed() {
			t.Logf("dev output:\n%s", out.String())
		}
	}()

	g.Eventually(out.String).WithTimeout(2 * time.Minute).WithPolling(200 * time.Millisecond).
		Should(ContainSubstring("crmflow is running."))
	g.Expect(out.String()).To(ContainSubstring("applied workflow dev-smoke/vip-routing"))

	// The banner names the console, and it lists the samples.
	g.Expect(out.String()).To(ContainSubstring("The web console (build, test, activate, watch runs): http://" + consoleAddr + "/"))
	g.Eventually(func() string {
		resp, err := http.Get("http://" + consoleAddr + "/api/namespaces/dev-smoke/workflows")
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}).WithTimeout(30 * time.Second).WithPolling(time.Second).Should(ContainSubstring(`"name":"vip-routing"`))

	// The banner's kubeconfig works, and kubectl explain shows our field docs.
	explain := exec.Command(filepath.Join(testenv.AssetsDir(root), "kubectl"), "explain", "workflows.spec.steps",
		"--api-version=crmflow.io/v1alpha1")
	explain.Env = append(os.Environ(), "KUBECONFIG="+filepath.Join(root, "bin", "dev", "kubeconfig"))
	g.Eventually(func() string { b, _ := explain.CombinedOutput(); explain = copyCmd(explain); return string(b) }).
		WithTimeout(30 * time.Second).WithPolling(time.Second).
		Should(And(ContainSubstring("steps run in order"), ContainSubstring("waitForEvent")))

	// The banner's curl, as a Go request: a VIP starts a conversation.
	send := func() (int, string) {
		body := `{"conversation":{"id":"conv-1","contactId":"c-42","channel":"chat"},` +
			`"contact":{"id":"c-42","firstName":"Ann","lastName":"Lee","email":"ann@example.com","tags":["VIP"]}}`
		req, _ := http.NewRequest(http.MethodPost, "http://"+receiver+"/v1/namespaces/dev-smoke/events", strings.NewReader(body))
		for k, v := range map[string]string{"Content-Type": "application/json", "ce-specversion": "1.0", "ce-id": "demo-1",
			"ce-source": "demo/cli", "ce-type": "conversation.started", "ce-subject": "c-42"} {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	var answer string
	g.Eventually(func() int {
		code, body := send()
		answer = body
		return code
	}).WithTimeout(time.Minute).WithPolling(time.Second).Should(BeNumerically("~", 250, 49))
	g.Expect(answer).To(ContainSubstring(`"enrolled"`), "the receiver's answer")
	g.Eventually(out.String).WithTimeout(time.Minute).Should(And(
		ContainSubstring("[crm] notification to vip-support"),
		ContainSubstring("[crm] command io.crmflow.contact.tags.add for c-42"),
		ContainSubstring("[crm] command io.crmflow.contact.update for c-42"),
	))

	children := descendants(cmd.Process.Pid)
	g.Expect(len(children)).To(BeNumerically(">=", 3), "expected etcd, kube-apiserver and the manager below the dev process")

	// Ctrl-C: SIGINT to the dev process, as a terminal sends it.
	g.Expect(cmd.Process.Signal(syscall.SIGINT)).To(Succeed())
	g.Eventually(done).WithTimeout(time.Minute).Should(Receive(BeNil()))
	for _, pid := range children {
		g.Expect(alive(pid)).To(BeFalse(), "process %d outlived Ctrl-C: %s", pid, cmdline(pid))
	}
	g.Expect(out.String()).To(ContainSubstring("stopping kube-apiserver and etcd"))
}

// copyCmd returns a fresh, unstarted copy of cmd (an exec.Cmd runs once).
func copyCmd(cmd *exec.Cmd) *exec.Cmd {
	c := exec.Command(cmd.Path, cmd.Args[1:]...)
	c.Env = cmd.Env
	return c
}

func cmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.ReplaceAll(string(b), "\x00", " ")
}
