//go:build !unit

package e2e

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/utils/clock"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/test/fixture"
)

var _ = Describe("Requeue-based waking on the real clock", func() {
	It("wakes a run after a real three-second wait with no write while it waits", func() {
		ns := newNamespace()
		writes := newWriteCounter()
		// No requeue policy: the only thing that can wake the run is the
		// RequeueAfter computed from its wakeAt.
		startManager(managerOptions{namespace: ns, clock: clock.RealClock{}, writes: writes})
		wf := createWorkflow(remindWorkflow(ns, "soon", fixture.SetSteps(fixture.WaitStep("pause", "3s"), fixture.NotifyStep("remind", "now"))))
		run := enroll(wf, cloudEvent("conversation.started", "e1", "c-1", time.Now(),
			map[string]any{"conversation": map[string]any{"contactId": "c-1"}}), "c-1")

		Eventually(phaseOf(run)).Should(Equal(v1alpha1.RunWaiting))
		waitingWrites := writes.of(run.Name)
		Expect(target.on("/notify/" + ns)).To(BeEmpty())

		Eventually(phaseOf(run), "20s", "100ms").Should(Equal(v1alpha1.RunSucceeded))
		got := getRun(run)(Default)
		pause := stepOf(got, "pause")
		Expect(pause.FinishTime.Time).To(BeTemporally(">=", pause.StartTime.Add(3*time.Second)))
		Expect(target.on("/notify/" + ns + "/sales")).To(HaveLen(1))
		// The wake wrote once and the finish label once; the wait wrote nothing.
		Expect(writes.of(run.Name)).To(BeNumerically("<=", waitingWrites+2))
	})
})
