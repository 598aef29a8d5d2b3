//go:build !unit

package main

import (
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/controllers/enrollment"
	"github.com/crmflow/crmflow/test/fixture"
)

// TestRunsFindsEveryRunOfAWorkflow creates, against a real API server, the
// runs crmflow's writers create (built by the same package intake and the
// schedule code use) for a workflow whose name is 60 characters long and for
// a schedule, plus a test run a person wrote by hand without any label, and
// lists each workflow's runs with `kubectl crmflow runs`.
func TestRunsFindsEveryRunOfAWorkflow(t *testing.T) {
	g := NewWithT(t)
	ctx := t.Context()
	srv := startReaderServer(t)
	admin, kubeconfig := srv.admin, srv.kubeconfig

	create := func(obj client.Object) {
		t.Helper()
		g.Expect(admin.Create(ctx, obj)).To(Succeed())
	}

	// An event workflow with a 60-character name: a run an event enrolled,
	// and a person's test run, written by hand without labels.
	long := fixture.MustSample(t, "vip-routing")
	long.Name = "vip-routing-for-the-enterprise-accounts-of-the-emea-sales-or"
	g.Expect(long.Name).To(HaveLen(60))
	create(long)
	ev := &v1alpha1.CloudEvent{ID: "ev-1", Source: "crm.example.com", Type: "conversation.started", Subject: "c-42"}
	eventRun := enrollment.ForEvent(long, long.Name+"-rev", enrollment.Event{Subject: "c-42", Event: ev})
	create(eventRun)
	create(&v1alpha1.WorkflowRun{
		ObjectMeta: metav1.ObjectMeta{Name: "try-vip", Namespace: "sales"},
		Spec:       v1alpha1.WorkflowRunSpec{WorkflowName: long.Name, DryRun: true, Subject: "c-7", Event: ev.DeepCopy()},
	})

	// A schedule workflow: the runs of two cron ticks.
	weekly := fixture.MustSample(t, "weekly-digest")
	create(weekly)
	tick := time.Date(2026, 11, 30, 14, 0, 0, 0, time.UTC)
	tick1 := enrollment.ForTick(weekly, weekly.Name+"-rev", tick.Add(-7*24*time.Hour))
	tick2 := enrollment.ForTick(weekly, weekly.Name+"-rev", tick)
	create(tick1)
	create(tick2)

	// Another workflow whose runs must not show in either list.
	other := fixture.MustSample(t, "vip-routing")
	create(other)
	create(enrollment.ForEvent(other, "vip-routing-rev", enrollment.Event{Subject: "c-42", Event: ev}))

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

// rows are the lines of a table after its header.
func rows(table string) []string {
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "NAME") {
		return nil
	}
	return lines[1:]
}
