package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/controllers/enrollment"
	"github.com/crmflow/crmflow/test/testenv"
)

// TestRunsFindsEveryRunOfAWorkflow creates, against a real API server, the
// runs crmflow's writers create (built by the same package intake and the
// schedule code use) for a workflow whose name is 60 characters long and for
// a schedule, plus a test run a person wrote by hand without any label, and
// lists each workflow's runs with `kubectl crmflow runs`.
func TestRunsFindsEveryRunOfAWorkflow(t *testing.T) {
	g := NewWithT(t)
	ctx := t.Context()
	testenv.SetEventuallyDefaults()
	env := testenv.New(filepath.Join("..", ".."))
	cfg, err := env.Start()
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = env.Stop() })
	scheme, err := testenv.Scheme()
	g.Expect(err).NotTo(HaveOccurred())
	admin, err := client.New(cfg, client.Options{Scheme: scheme})
	g.Expect(err).NotTo(HaveOccurred())

	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData}
	kc.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "admin", Namespace: "sales"}
	kc.CurrentContext = "envtest"
	g.Expect(clientcmd.WriteToFile(*kc, kubeconfig)).To(Succeed())
	g.Expect(admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "sales"}})).To(Succeed())

	create := func(wf *v1alpha1.Workflow, runs ...*v1alpha1.WorkflowRun) {
		t.Helper()
		g.Expect(admin.Create(ctx, wf)).To(Succeed())
		for _, run := range runs {
			if len(run.OwnerReferences) > 0 {
				run.OwnerReferences[0].UID = wf.UID
			}
			g.Expect(admin.Create(ctx, run)).To(Succeed())
		}
	}

	// An event workflow with a 60-character name: an event run and a
	// delayed one, and a person's test run without labels.
	long := sampleWorkflow(t, "vip-routing")
	long.Name = "vip-routing-for-the-enterprise-accounts-of-the-emea-sales-or"
	g.Expect(long.Name).To(HaveLen(60))
	ev := &v1alpha1.CloudEvent{ID: "ev-1", Source: "crm.example.com", Type: "conversation.started", Subject: "c-42"}
	eventRun := enrollment.ForEvent(long, long.Name+"-rev", enrollment.Event{Subject: "c-42", Event: ev})
	testRun := &v1alpha1.WorkflowRun{
		ObjectMeta: metav1.ObjectMeta{Name: "try-vip", Namespace: "sales"},
		Spec:       v1alpha1.WorkflowRunSpec{WorkflowName: long.Name, DryRun: true, Subject: "c-7", Event: ev.DeepCopy()},
	}
	create(long, eventRun, testRun)

	// A schedule workflow: the runs of two cron ticks.
	weekly := sampleWorkflow(t, "weekly-digest")
	tick := time.Date(2026, 11, 30, 14, 0, 0, 0, time.UTC)
	tick1 := enrollment.ForTick(weekly, weekly.Name+"-rev", tick.Add(-7*24*time.Hour))
	tick2 := enrollment.ForTick(weekly, weekly.Name+"-rev", tick)
	create(weekly, tick1, tick2)

	// Another workflow whose runs must not show in either list.
	other := sampleWorkflow(t, "vip-routing")
	create(other, enrollment.ForEvent(other, "vip-routing-rev", enrollment.Event{Subject: "c-42", Event: ev}))

	now := time.Now()
	out, errOut, code := runPluginAt(now, "runs", long.Name, "--kubeconfig", kubeconfig)
	g.Expect(code).To(Equal(0), errOut)
	g.Expect(out).To(MatchRegexp(`(?m)^` + eventRun.Name + `\s+c-42\s+Pending\s+-\s+-\s+false\s`))
	g.Expect(out).To(MatchRegexp(`(?m)^try-vip\s+c-7\s+Pending\s+-\s+-\s+true\s`))
	g.Expect(rows(out)).To(HaveLen(2), out)

	out, errOut, code = runPluginAt(now, "runs", weekly.Name, "--kubeconfig", kubeconfig)
	g.Expect(code).To(Equal(0), errOut)
	g.Expect(out).To(MatchRegexp(`(?m)^` + tick1.Name + `\s+sales-team\s+Pending\s`))
	g.Expect(out).To(MatchRegexp(`(?m)^` + tick2.Name + `\s+sales-team\s+Pending\s`))
	g.Expect(rows(out)).To(HaveLen(2), out)

	out, errOut, code = runPluginAt(now, "runs", weekly.Name, "--active", "--kubeconfig", kubeconfig)
	g.Expect(code).To(Equal(0), errOut)
	g.Expect(rows(out)).To(HaveLen(2), "unfinished runs: %s", out)
}

// sampleWorkflow reads a seed sample into the namespace "sales".
func sampleWorkflow(t *testing.T, name string) *v1alpha1.Workflow {
	t.Helper()
	raw, err := os.ReadFile(samplePath(name))
	if err != nil {
		t.Fatal(err)
	}
	wf := &v1alpha1.Workflow{}
	if err := yaml.UnmarshalStrict(raw, wf); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	wf.Namespace = "sales"
	return wf
}

// rows are the lines of a table after its header.
func rows(table string) []string {
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "NAME") {
		return nil
	}
	return lines[1:]
}
