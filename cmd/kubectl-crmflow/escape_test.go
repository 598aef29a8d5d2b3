//go:build !unit

package main

import (
	"encoding/json"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/internal/history"
	"github.com/crmflow/crmflow/internal/history/historytest"
)

// TestEventDataCannotDriveTheTerminal archives a run and a skipped event
// whose event data and messages carry terminal escape sequences, and checks
// that runs, history and contact print them escaped, never raw.
func TestEventDataCannotDriveTheTerminal(t *testing.T) {
	g := NewWithT(t)
	ctx := t.Context()
	srvs := startReaderServer(t)
	hs := historytest.Serve(t, srvs.admin)
	store := hs.Store
	hist := []string{"--kubeconfig", srvs.kubeconfig, "--history-url", hs.URL, "--history-ca-file", hs.CAFile}

	const evil = "\x1b[31mRED\x1b]0;pwned\a\u009b2J\r\x08"
	const escaped = `\x1b[31mRED\x1b]0;pwned\a\u009b2J\r\b`
	created := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	subject := "c-esc" + evil
	output, err := json.Marshal(map[string]string{"body": evil})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(store.Archive(ctx, []history.Run{{
		UID: "u-esc", Namespace: "sales", Name: "xss-flow-1", Workflow: "xss-flow", Subject: subject,
		EventSource: "crm" + evil, EventID: "ev" + evil, EventType: "contact.created" + evil,
		Phase: string(v1alpha1.RunFailed), Result: "StepFailed" + evil, Message: "failed" + evil,
		Created: created, Started: created, Finished: created.Add(time.Second),
		Conditions: []v1alpha1.ConditionResult{{Name: "vip" + evil, Expression: "true" + evil, Result: true, Message: "ok" + evil}},
		Steps: []v1alpha1.StepStatus{{Name: "notify" + evil, Phase: v1alpha1.StepFailed, Message: "boom" + evil,
			Output: &runtime.RawExtension{Raw: output}}},
	}})).To(Succeed())
	_, err = store.RecordSkips(ctx, []history.Skip{{Namespace: "sales", Workflow: "xss-flow", Reason: "ConditionsNotMet" + evil,
		EventID: "ev2" + evil, Subject: subject, Message: "not VIP" + evil, Time: created}})
	g.Expect(err).NotTo(HaveOccurred())

	later := created.Add(time.Hour)
	for _, args := range [][]string{
		{"runs", "xss-flow"},
		{"history", "xss-flow-1"},
		{"contact", subject},
	} {
		out, errOut, code := runPluginAt(later, append(args, hist...)...)
		g.Expect(code).To(Equal(0), errOut)
		g.Expect(out).To(ContainSubstring(escaped), "%s", args[0])
		for i, r := range out {
			if r != '\n' && (r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0)) {
				t.Errorf("%s prints control character %q raw at %d:\n%s", args[0], r, i, out)
				break
			}
		}
	}
}
