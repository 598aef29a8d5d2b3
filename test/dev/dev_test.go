//go:build !unit

// Package dev proves the README's local start: `make dev` (its binary,
// hack/dev) brings up the API server, etcd, the manager with its receiver and
// admission webhooks, and the samples; kubectl apply refuses bad CEL with the
// field path and position and shows the loop warning; an event sent as the
// banner says reaches the stand-in CRM; `kubectl crmflow test --workflow
// --contact` plans from the contact's last event without changing any count;
// a run waiting across a stop and restart is still there and completes; and
// neither Ctrl-C nor a failed start leaves a process behind.
package dev

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
	defer func() { _ = ln.Close() }()
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
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
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

// binaries builds the manager, hack/dev and the plugin once per test binary.
var binaries = sync.OnceValues(func() (map[string]string, error) {
	dir, err := os.MkdirTemp("", "crmflow-dev-test-bin-")
	if err != nil {
		return nil, err
	}
	builtDir = dir
	out := map[string]string{}
	for name, pkg := range map[string]string{"manager": ".", "dev": "./hack/dev", "kubectl-crmflow": "./cmd/kubectl-crmflow"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), pkg)
		cmd.Dir = repoRoot()
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build %s: %w: %s", pkg, err, b)
		}
		out[name] = filepath.Join(dir, name)
	}
	return out, nil
})

func repoRoot() string {
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	return root
}

// builtDir holds the binaries once built; TestMain removes it.
var builtDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if builtDir != "" {
		_ = os.RemoveAll(builtDir)
	}
	os.Exit(code)
}

// devStart is one run of the local start's binary.
type devStart struct {
	t        *testing.T
	cmd      *exec.Cmd
	out      *output
	done     chan error
	state    string
	tmp      string // TMPDIR of the local start and its children
	receiver string
	ns       string
}

// addrs are the ports one local start uses; a restart reuses them.
type addrs struct{ receiver, sink, smtp, metrics, probe, console, history, webhookPort string }

func newAddrs(t *testing.T) addrs {
	_, port, _ := net.SplitHostPort(freeAddr(t))
	return addrs{freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t), port}
}

func startDev(t *testing.T, state, ns string, a addrs, extra ...string) *devStart {
	t.Helper()
	bins, err := binaries()
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{
		"--root", repoRoot(),
		"--state-dir", state,
		"--manager", bins["manager"],
		"--plugin", bins["kubectl-crmflow"],
		"--namespace", ns,
		"--receiver-addr", a.receiver,
		"--sink-addr", a.sink,
		"--smtp-addr", a.smtp,
		"--metrics-addr", a.metrics,
		"--probe-addr", a.probe,
		"--console-addr", a.console,
		"--history-addr", a.history,
		"--webhook-port", a.webhookPort,
	}, extra...)
	d := &devStart{t: t, out: &output{}, done: make(chan error, 1), state: state, tmp: t.TempDir(), receiver: a.receiver, ns: ns}
	d.cmd = exec.Command(bins["dev"], args...)
	d.cmd.Env = append(os.Environ(), "TMPDIR="+d.tmp)
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() {
		if d.cmd.ProcessState == nil {
			// Stop it as Ctrl-C would, so its control plane does not outlive a failed test.
			_ = d.cmd.Process.Signal(syscall.SIGINT)
			select {
			case err := <-d.done:
				t.Logf("crmflow-dev stopped: %v", err)
			case <-time.After(time.Minute):
				_ = d.cmd.Process.Kill()
			}
		}
		if t.Failed() {
			t.Logf("dev output:\n%s", d.out.String())
		}
	})
	return d
}

// waitRunning waits for the banner.
func (d *devStart) waitRunning(g Gomega) {
	g.Eventually(outputUnlessExited(d.out, d.done)).WithTimeout(4*time.Minute).WithPolling(200*time.Millisecond).
		Should(ContainSubstring("crmflow is running."), "the local start did not come up")
}

// outputUnlessExited polls out, and stops an Eventually at once when the
// process whose Wait result arrives on done has exited (the result is put
// back for later readers): a local start that failed (a port in use, say)
// fails the test now, not at the timeout.
func outputUnlessExited(out *output, done chan error) func() string {
	return func() string {
		select {
		case err := <-done:
			done <- err
			StopTrying(fmt.Sprintf("it exited before it came up (%v)", err)).Now()
		default:
		}
		return out.String()
	}
}

// stop sends SIGINT, as a terminal's Ctrl-C does, and checks that it exits 0
// and that every process it started is gone.
func (d *devStart) stop(g Gomega) {
	children := descendants(d.cmd.Process.Pid)
	g.Expect(d.cmd.Process.Signal(syscall.SIGINT)).To(Succeed())
	g.Eventually(d.done).WithTimeout(2*time.Minute).Should(Receive(BeNil()), "Ctrl-C exits 0")
	for _, pid := range children {
		g.Expect(alive(pid)).To(BeFalse(), "process %d outlived Ctrl-C: %s", pid, cmdline(pid))
	}
	g.Expect(processesMentioning(d.state)).To(BeEmpty())
	g.Expect(os.ReadDir(d.tmp)).To(BeEmpty(), "no temporary file or directory left behind")
}

// kubectl runs the control plane's kubectl with the local start's kubeconfig.
func (d *devStart) kubectl(stdin string, args ...string) (string, string, error) {
	return d.run(filepath.Join(testenvAssets(), "kubectl"), stdin, args...)
}

// plugin runs kubectl-crmflow with the local start's kubeconfig.
func (d *devStart) plugin(args ...string) (string, string, error) {
	bins, _ := binaries()
	return d.run(bins["kubectl-crmflow"], "", args...)
}

func (d *devStart) run(bin, stdin string, args ...string) (string, string, error) {
	return d.runWith(bin, nil, stdin, args...)
}

// runEnv runs bin with the local start's kubeconfig and env added.
func (d *devStart) runEnv(bin string, env []string, args ...string) (string, string, error) {
	return d.runWith(bin, env, "", args...)
}

func (d *devStart) runWith(bin string, env []string, stdin string, args ...string) (string, string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(append(os.Environ(), "KUBECONFIG="+filepath.Join(d.state, "kubeconfig")), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

// send posts a CloudEvent to the receiver, as the banner's curl does.
func (d *devStart) send(id, typ, subject, data string) (int, string) {
	req, _ := http.NewRequest(http.MethodPost, "http://"+d.receiver+"/v1/namespaces/"+d.ns+"/events", strings.NewReader(data))
	for k, v := range map[string]string{"Content-Type": "application/json", "ce-specversion": "1.0", "ce-id": id,
		"ce-source": "demo/cli", "ce-type": typ, "ce-subject": subject} {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func testenvAssets() string { return testenv.AssetsDir(repoRoot()) }

const vipEvent = `{"conversation":{"id":"conv-1","contactId":"c-42","channel":"chat"},` +
	`"contact":{"id":"c-42","firstName":"Ann","lastName":"Lee","email":"ann@example.com","tags":["VIP"]}}`

const badCEL = `apiVersion: crmflow.io/v1alpha1
kind: Workflow
metadata: {name: bad-cel}
spec:
  state: Active
  trigger: {event: {types: [contact.created]}}
  conditions:
  - expression: 'contact.country == '
  steps:
  - {name: tag, addTags: {tags: [x]}}
`

const loopProne = `apiVersion: crmflow.io/v1alpha1
kind: Workflow
metadata: {name: tag-echo}
spec:
  state: Active
  trigger: {event: {types: [contact.tag.added]}}
  steps:
  - {name: tag, addTags: {tags: [Tagged]}}
`

// everyTarget sends to every target of the stand-in CRM, as its banner says
// to point them: SMTP host and port, and the CRM's address.
const everyTarget = `apiVersion: crmflow.io/v1alpha1
kind: Workflow
metadata: {name: every-target}
spec:
  state: Active
  trigger: {event: {types: [ticket.created]}}
  subject: ticket.contactId
  connections:
    smtp: {host: %s, port: %s, tls: None, from: crmflow@example.com}
    sms: {url: 'http://%s/sms'}
  steps:
  - name: mail
    sendEmail: {to: '{{ contact.email }}', subject: 'Ticket {{ ticket.id }}', body: 'Hi {{ default(contact.firstName, "there") }}, we are on it.'}
  - name: text
    sendSMS: {to: '+15550100', body: 'Ticket {{ ticket.id }} opened'}
  - name: hook
    callWebhook: {urlFrom: {name: crmflow-hooks, key: webhook-url}}
  - name: zap
    triggerZapier: {hookURLSecretRef: {name: crmflow-hooks, key: zapier-url}, data: {ticket: '{{ ticket.id }}'}}
`

// settle waits 20 s, then tags the contact: a run that is Waiting when the
// local start stops, and must complete after the restart.
const settle = `apiVersion: crmflow.io/v1alpha1
kind: Workflow
metadata: {name: settle}
spec:
  state: Active
  trigger: {event: {types: [lead.created]}}
  subject: lead.contactId
  steps:
  - {name: settle, wait: {duration: 20s}}
  - {name: tag, addTags: {tags: [Settled]}}
`

func TestLocalStartValidatesAtApplyPlansAndSurvivesARestart(t *testing.T) {
	g := NewWithT(t)
	state, ns, a := t.TempDir(), "dev-smoke", newAddrs(t)
	d := startDev(t, state, ns, a)
	d.waitRunning(g)
	g.Expect(d.out.String()).To(ContainSubstring("applied workflow dev-smoke/vip-routing"))
	g.Expect(d.out.String()).To(ContainSubstring("registered the admission webhooks"))
	g.Expect(d.out.String()).NotTo(ContainSubstring("log.SetLogger"))

	// The samples are written to <state>/samples with email at the local
	// mailbox, and created as kubectl apply would: re-applying one (edited)
	// merges cleanly, with no warning, and keeps the local SMTP.
	smtpHost, smtpPort, _ := net.SplitHostPort(a.smtp)
	samples := filepath.Join(state, "samples")
	g.Expect(d.out.String()).To(ContainSubstring("The samples, with their email aimed at the local mailbox, are in " + samples + "/"))
	lead := filepath.Join(samples, "crmflow_v1alpha1_lead-follow-up.yaml")
	smtpOf := func(name string) string {
		out, _, _ := d.kubectl("", "get", "workflow", "-n", ns, name, "-o", "jsonpath={.spec.connections.smtp.host}:{.spec.connections.smtp.port} {.spec.connections.smtp.tls}")
		return out
	}
	g.Expect(smtpOf("lead-follow-up")).To(Equal(a.smtp + " None"))
	out, errOut, err := d.kubectl("", "apply", "-f", lead)
	g.Expect(err).NotTo(HaveOccurred(), errOut)
	g.Expect(out).To(ContainSubstring("workflow.crmflow.io/lead-follow-up unchanged"))
	g.Expect(errOut).NotTo(ContainSubstring("last-applied-configuration"))
	raw, err := os.ReadFile(lead)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(raw)).To(ContainSubstring("host: " + smtpHost))
	edited := strings.Replace(string(raw), "settle\n    wait: {duration: 1h}", "settle\n    wait: {duration: 1m}", 1)
	g.Expect(edited).NotTo(Equal(string(raw)))
	g.Expect(os.WriteFile(lead, []byte(edited), 0o644)).To(Succeed())
	out, errOut, err = d.kubectl("", "apply", "-f", lead)
	g.Expect(err).NotTo(HaveOccurred(), errOut)
	g.Expect(out).To(ContainSubstring("workflow.crmflow.io/lead-follow-up configured"))
	g.Expect(errOut).NotTo(ContainSubstring("Warning"))
	g.Expect(smtpOf("lead-follow-up")).To(Equal(smtpHost + ":" + smtpPort + " None"))
	wait, _, _ := d.kubectl("", "get", "workflow", "-n", ns, "lead-follow-up", "-o", "jsonpath={.spec.steps[0].wait.duration}")
	g.Expect(wait).To(Equal("1m"))
	// config/samples, applied as it is, points at the placeholder host: the
	// restart below names it, with the local file that fixes it.
	_, errOut, err = d.kubectl("", "apply", "-n", ns, "-f", filepath.Join(repoRoot(), "config", "samples", "crmflow_v1alpha1_renewal-reminder.yaml"))
	g.Expect(err).NotTo(HaveOccurred(), errOut)
	g.Expect(smtpOf("renewal-reminder")).To(HavePrefix("smtp.example.com:"))

	// The banner names the console, and it lists the samples.
	g.Expect(d.out.String()).To(ContainSubstring("The web console (build, test, activate, watch runs): http://" + a.console + "/"))
	g.Eventually(func() string {
		resp, err := http.Get("http://" + a.console + "/api/namespaces/" + ns + "/workflows")
		if err != nil {
			return err.Error()
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}).WithTimeout(30 * time.Second).WithPolling(time.Second).Should(ContainSubstring(`"name":"vip-routing"`))

	// The banner's kubeconfig works, and kubectl explain shows our field docs.
	g.Eventually(func() string {
		out, _, _ := d.kubectl("", "explain", "workflows.spec.steps", "--api-version=crmflow.io/v1alpha1")
		return out
	}).
		WithTimeout(30 * time.Second).WithPolling(time.Second).
		Should(And(ContainSubstring("steps run in order"), ContainSubstring("waitForEvent")))

	// Bad CEL is refused at apply, with the field path and the position.
	out, errOut, err = d.kubectl(badCEL, "apply", "-n", ns, "-f", "-")
	g.Expect(err).To(HaveOccurred(), "apply of bad CEL must fail: %s", out)
	g.Expect(errOut).To(ContainSubstring(`spec.conditions[0].expression`))
	g.Expect(errOut).To(MatchRegexp(`1:\d+: Syntax error`))
	_, _, err = d.kubectl("", "get", "workflow", "-n", ns, "bad-cel")
	g.Expect(err).To(HaveOccurred(), "nothing was stored")

	// A loop-prone workflow is accepted with the warning.
	out, errOut, err = d.kubectl(loopProne, "apply", "-n", ns, "-f", "-")
	g.Expect(err).NotTo(HaveOccurred(), errOut)
	g.Expect(out).To(ContainSubstring("tag-echo created"))
	g.Expect(errOut).To(ContainSubstring("Warning: likely loop: spec.steps[0].addTags"))

	// The banner's event reaches the stand-in CRM.
	var answer string
	g.Eventually(func() int {
		code, body := d.send("demo-1", "conversation.started", "c-42", vipEvent)
		answer = body
		return code
	}).WithTimeout(time.Minute).WithPolling(time.Second).Should(BeNumerically("~", 250, 49))
	g.Expect(answer).To(ContainSubstring(`"enrolled"`), "the receiver's answer")
	g.Eventually(d.out.String).WithTimeout(time.Minute).Should(And(
		ContainSubstring("[crm] notification to vip-support"),
		ContainSubstring("[crm] command io.crmflow.contact.tags.add for c-42"),
		ContainSubstring("[crm] command io.crmflow.contact.update for c-42"),
	))
	succeeded := func() string {
		out, _, _ := d.kubectl("", "get", "workflow", "-n", ns, "vip-routing", "-o", "jsonpath={.status.runs.succeeded}")
		return out
	}
	g.Eventually(succeeded).WithTimeout(time.Minute).Should(Equal("1"))

	// kubectl crmflow test on the cluster's workflow and the contact's last event: a plan, nothing created.
	runsBefore, _, err := d.kubectl("", "get", "workflowruns", "-n", ns, "-o", "name")
	g.Expect(err).NotTo(HaveOccurred())
	plan, errOut, err := d.plugin("test", "-n", ns, "--workflow", "vip-routing", "--contact", "c-42")
	g.Expect(err).NotTo(HaveOccurred(), errOut)
	g.Expect(plan).To(ContainSubstring("Event:      conversation.started id=demo-1 source=demo/cli"))
	g.Expect(plan).To(ContainSubstring("the newest of 1 recorded events of c-42"))
	g.Expect(plan).To(ContainSubstring(`would notify vip-support: "VIP Ann Lee started a conversation on chat."`))
	g.Expect(plan).To(ContainSubstring("Outcome:    Succeeded (Completed)"))
	runsAfter, _, _ := d.kubectl("", "get", "workflowruns", "-n", ns, "-o", "name")
	g.Expect(runsAfter).To(Equal(runsBefore), "the test created no run")
	g.Consistently(succeeded).WithTimeout(3*time.Second).WithPolling(500*time.Millisecond).Should(Equal("1"), "counts unchanged")

	// The banner's history settings read the run once it has left etcd,
	// with the kubeconfig's token and the local CA.
	env := regexp.MustCompile(`export CRMFLOW_HISTORY_URL=(\S+) CRMFLOW_HISTORY_CA_FILE=(\S+)`).FindStringSubmatch(d.out.String())
	g.Expect(env).To(HaveLen(3), "the banner exports the history API's URL and CA")
	run := regexp.MustCompile(`"run":"([^"]+)"`).FindStringSubmatch(answer)
	g.Expect(run).To(HaveLen(2), "the receiver's answer names the run: %s", answer)
	_, errOut, err = d.kubectl("", "delete", "workflowrun", "-n", ns, run[1])
	g.Expect(err).NotTo(HaveOccurred(), errOut)
	g.Eventually(func() string {
		bins, _ := binaries()
		out, errOut, _ := d.runEnv(bins["kubectl-crmflow"], []string{"CRMFLOW_HISTORY_URL=" + env[1], "CRMFLOW_HISTORY_CA_FILE=" + env[2]}, "history", "-n", ns, run[1])
		return out + errOut
	}).WithTimeout(30 * time.Second).WithPolling(time.Second).Should(And(
		ContainSubstring("Run:        "+ns+"/"+run[1]), ContainSubstring("tag-conversation"), ContainSubstring("Outcome:    Succeeded")))

	// Every stand-in target the banner lists answers what a workflow sends it.
	every := fmt.Sprintf(everyTarget, smtpHost, smtpPort, a.sink)
	_, errOut, err = d.kubectl(every, "apply", "-n", ns, "-f", "-")
	g.Expect(err).NotTo(HaveOccurred(), errOut)
	// Until the receiver knows the new workflow, an event matches nothing and is
	// acknowledged all the same: send until it enrolls (a new id each try).
	try := 0
	g.Eventually(func() string {
		try++
		code, body := d.send(fmt.Sprintf("ticket-%d", try), "ticket.created", "c-9", `{"ticket":{"id":"t-1","contactId":"c-9"},"contact":{"id":"c-9","email":"cy@example.com"}}`)
		return fmt.Sprint(code, " ", body)
	}).WithTimeout(time.Minute).WithPolling(time.Second).Should(And(HavePrefix("202 "), ContainSubstring(`"enrolled"`)))
	g.Eventually(d.out.String).WithTimeout(time.Minute).Should(And(
		ContainSubstring(`[crm] email from crmflow@example.com to cy@example.com: "Ticket t-1"`),
		ContainSubstring("Hi there"), // default(contact.firstName, "there")
		ContainSubstring("[crm] SMS POST /sms"),
		ContainSubstring("[crm] webhook POST /webhook/default"),
		ContainSubstring("[crm] Zapier hook POST /zapier/default"),
	))

	// A run that waits when the local start stops...
	_, errOut, err = d.kubectl(settle, "apply", "-n", ns, "-f", "-")
	g.Expect(err).NotTo(HaveOccurred(), errOut)
	g.Eventually(func() int {
		code, _ := d.send("lead-1", "lead.created", "c-7", `{"lead":{"id":"l-1","contactId":"c-7","source":"Website"}}`)
		return code
	}).WithTimeout(time.Minute).WithPolling(time.Second).Should(Equal(http.StatusAccepted))
	phase := func() string {
		out, _, _ := d.kubectl("", "get", "workflowruns", "-n", ns, "-l", "crmflow.io/workflow=settle", "-o", "jsonpath={.items[*].status.phase}")
		return out
	}
	g.Eventually(phase).WithTimeout(time.Minute).Should(Equal("Waiting"))
	d.stop(g)

	// ...is still there after a restart on the same state, and completes.
	d2 := startDev(t, state, ns, a)
	d2.waitRunning(g)
	g.Expect(d2.out.String()).To(ContainSubstring("workflow dev-smoke/vip-routing is already there"))
	// The user's edited sample file and workflow are kept; the one on the
	// placeholder SMTP host is named in the banner, with the fix.
	g.Expect(os.ReadFile(lead)).To(Equal([]byte(edited)))
	g.Expect(d2.out.String()).To(ContainSubstring("kept " + lead + ": you changed it"))
	g.Expect(smtpOf("lead-follow-up")).To(Equal(smtpHost + ":" + smtpPort + " None"))
	g.Expect(d2.out.String()).To(ContainSubstring("Note: workflow dev-smoke/renewal-reminder sends email via smtp.example.com"))
	g.Expect(d2.out.String()).To(ContainSubstring("to use the local mailbox: kubectl apply -f " + filepath.Join(samples, "crmflow_v1alpha1_renewal-reminder.yaml")))
	g.Expect(d2.out.String()).NotTo(ContainSubstring("Note: workflow dev-smoke/lead-follow-up"))
	phase = func() string {
		out, _, _ := d2.kubectl("", "get", "workflowruns", "-n", ns, "-l", "crmflow.io/workflow=settle", "-o", "jsonpath={.items[*].status.phase}")
		return out
	}
	g.Expect(phase()).To(Or(Equal("Waiting"), Equal("Running"), Equal("Succeeded")), "the waiting run survived")
	g.Eventually(phase).WithTimeout(2 * time.Minute).Should(Equal("Succeeded"))
	g.Eventually(d2.out.String).WithTimeout(time.Minute).Should(ContainSubstring("[crm] command io.crmflow.contact.tags.add for c-7"))
	d2.stop(g)
}

func TestFailedStartsLeaveNothingBehind(t *testing.T) {
	t.Run("occupied port", func(t *testing.T) {
		g := NewWithT(t)
		a := newAddrs(t)
		busy, err := net.Listen("tcp", a.receiver)
		g.Expect(err).NotTo(HaveOccurred())
		defer func() { _ = busy.Close() }()
		state := t.TempDir()
		d := startDev(t, state, "dev-busy", a)
		var exit error
		g.Eventually(d.done).WithTimeout(time.Minute).Should(Receive(&exit))
		g.Expect(exit).To(HaveOccurred(), "a failed start exits non-zero")
		g.Expect(d.out.String()).To(ContainSubstring("--receiver-addr " + a.receiver))
		g.Expect(processesMentioning(state)).To(BeEmpty())
	})
	t.Run("occupied history port", func(t *testing.T) {
		g := NewWithT(t)
		a := newAddrs(t)
		busy, err := net.Listen("tcp", a.history)
		g.Expect(err).NotTo(HaveOccurred())
		defer func() { _ = busy.Close() }()
		state := t.TempDir()
		d := startDev(t, state, "dev-busy-history", a)
		var exit error
		g.Eventually(d.done).WithTimeout(time.Minute).Should(Receive(&exit))
		g.Expect(exit).To(HaveOccurred(), "a failed start exits non-zero")
		g.Expect(d.out.String()).To(ContainSubstring("--history-addr " + a.history))
		g.Expect(processesMentioning(state)).To(BeEmpty())
	})
	t.Run("start timeout", func(t *testing.T) {
		g := NewWithT(t)
		state := t.TempDir()
		d := startDev(t, state, "dev-slow", newAddrs(t), "--start-timeout", "50ms")
		var exit error
		g.Eventually(d.done).WithTimeout(2 * time.Minute).Should(Receive(&exit))
		g.Expect(exit).To(HaveOccurred())
		g.Expect(d.out.String()).To(ContainSubstring("of --start-timeout 50ms"))
		g.Expect(processesMentioning(state)).To(BeEmpty())
		g.Expect(os.ReadDir(d.tmp)).To(BeEmpty(), "no temporary file or directory left behind")
	})
	t.Run("Ctrl-C during start-up", func(t *testing.T) {
		g := NewWithT(t)
		state := t.TempDir()
		d := startDev(t, state, "dev-interrupted", newAddrs(t))
		g.Eventually(d.out.String).WithTimeout(time.Minute).Should(ContainSubstring("starting etcd"))
		g.Expect(d.cmd.Process.Signal(syscall.SIGINT)).To(Succeed())
		g.Eventually(d.done).WithTimeout(2*time.Minute).Should(Receive(BeNil()), "Ctrl-C exits 0, even during start-up")
		g.Expect(d.out.String()).To(ContainSubstring("interrupted during start-up"))
		g.Expect(processesMentioning(state)).To(BeEmpty())
		g.Expect(os.ReadDir(d.tmp)).To(BeEmpty(), "no temporary file or directory left behind")
	})
	t.Run("manager dies after the control plane started", func(t *testing.T) {
		g := NewWithT(t)
		state := t.TempDir()
		d := startDev(t, state, "dev-dies", newAddrs(t), "--manager", "/bin/false")
		var exit error
		g.Eventually(d.done).WithTimeout(4 * time.Minute).Should(Receive(&exit))
		g.Expect(exit).To(HaveOccurred())
		g.Expect(d.out.String()).To(ContainSubstring("the manager exited"))
		g.Expect(d.out.String()).To(ContainSubstring("stopping kube-apiserver and etcd"))
		g.Expect(processesMentioning(state)).To(BeEmpty())
		g.Expect(os.ReadDir(d.tmp)).To(BeEmpty(), "no temporary file or directory left behind")
	})
}

// processesMentioning lists live processes whose command line holds s (the
// state directory appears in etcd's, kube-apiserver's and the manager's).
func processesMentioning(s string) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() || !alive(pid) {
			continue
		}
		if c := cmdline(pid); strings.Contains(c, s) {
			out = append(out, fmt.Sprintf("%d: %s", pid, c))
		}
	}
	return out
}

// linesContaining returns the lines of s that hold sub, so a failure names
// the offending lines rather than the whole log.
func linesContaining(s, sub string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return out
}

func cmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.ReplaceAll(string(b), "\x00", " ")
}

// `make dev` itself: Ctrl-C in a terminal signals the whole foreground
// process group (make, the shell, the local start); make must end without
// "Error" or "Interrupt" (the local start exits 0), and nothing may be left running.
func TestMakeDevCtrlCExitsZero(t *testing.T) {
	g := NewWithT(t)
	a, state := newAddrs(t), t.TempDir()
	flags := strings.Join([]string{"--state-dir=" + state, "--namespace=dev-make", "--receiver-addr=" + a.receiver,
		"--sink-addr=" + a.sink, "--smtp-addr=" + a.smtp, "--metrics-addr=" + a.metrics, "--probe-addr=" + a.probe,
		"--console-addr=" + a.console, "--history-addr=" + a.history, "--webhook-port=" + a.webhookPort}, " ")
	out := &output{}
	cmd := exec.Command("make", "--no-print-directory", "dev", "DEV_FLAGS="+flags)
	cmd.Dir = repoRoot()
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a process group of its own, like a terminal's job
	g.Expect(cmd.Start()).To(Succeed())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	pgid := cmd.Process.Pid
	defer func() {
		if cmd.ProcessState == nil {
			_ = syscall.Kill(-pgid, syscall.SIGINT)
			select {
			case err := <-done:
				t.Logf("make dev stopped: %v", err)
			case <-time.After(time.Minute):
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
			}
		}
		if t.Failed() {
			t.Logf("make dev output:\n%s", out.String())
		}
	}()
	g.Eventually(outputUnlessExited(out, done)).WithTimeout(8 * time.Minute).WithPolling(time.Second).Should(ContainSubstring("crmflow is running."))

	// make dev built the plugin, and the banner's export lines, pasted into a
	// fresh shell, make its kubectl crmflow commands and kubectl apply work.
	plugin := filepath.Join(repoRoot(), "bin", "kubectl-crmflow")
	g.Expect(plugin).To(BeAnExistingFile(), "make dev builds the plugin")
	exports := regexp.MustCompile(`(?m)^  export .*$`).FindAllString(out.String(), -1)
	g.Expect(exports).To(HaveLen(3), "KUBECONFIG, PATH and the history API")
	g.Expect(exports[1]).To(HavePrefix("  export PATH=" + filepath.Dir(plugin) + ":" + testenvAssets() + ":$PATH"))
	sample := filepath.Join(state, "samples", "crmflow_v1alpha1_vip-routing.yaml")
	script := strings.Join(exports, "\n") + `
set -e
command -v kubectl
command -v kubectl-crmflow
kubectl crmflow runs vip-routing -n dev-make
kubectl apply -f ` + sample + `
kubectl crmflow test --workflow vip-routing -n dev-make
`
	shell := exec.Command("bash", "-c", script)
	shell.Env = []string{"HOME=" + t.TempDir(), "PATH=/usr/local/bin:/usr/bin:/bin"} // a fresh shell, nothing of ours set
	b, err := shell.CombinedOutput()
	g.Expect(err).NotTo(HaveOccurred(), "%s", b)
	g.Expect(string(b)).To(HavePrefix(filepath.Join(testenvAssets(), "kubectl") + "\n" + plugin + "\n"))
	g.Expect(string(b)).To(ContainSubstring("workflow.crmflow.io/vip-routing unchanged"))
	g.Expect(string(b)).To(ContainSubstring("Outcome:"))
	g.Expect(string(b)).NotTo(ContainSubstring("Warning"))

	g.Expect(syscall.Kill(-pgid, syscall.SIGINT)).To(Succeed(), "Ctrl-C")
	var exit error
	g.Eventually(done).WithTimeout(2 * time.Minute).Should(Receive(&exit))
	// The recipe (the local start) exits 0, so make reports no error; make
	// itself got the SIGINT too and, as GNU make does, re-raises it once its
	// child is done: the shell sees an interrupted job, silently.
	if exit != nil {
		var ee *exec.ExitError
		g.Expect(errors.As(exit, &ee)).To(BeTrue(), "%v", exit)
		ws, _ := ee.Sys().(syscall.WaitStatus)
		g.Expect(ws.Signaled() && ws.Signal() == syscall.SIGINT).To(BeTrue(), "make exits 0 or by the Ctrl-C itself, not with an error status: %v", exit)
	}
	g.Expect(linesContaining(out.String(), "Error")).To(BeEmpty())
	g.Expect(linesContaining(out.String(), "Interrupt")).To(BeEmpty())
	g.Expect(out.String()).To(ContainSubstring("stopping kube-apiserver and etcd"))
	g.Expect(processesMentioning(state)).To(BeEmpty())
}
