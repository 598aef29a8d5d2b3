//go:build !unit

package e2e

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/test/fixture"
)

var _ = Describe("Restart", func() {
	It("resumes runs stopped mid-wait and mid-retry: each completes once, one idempotency key per step", func() {
		ns := newNamespace()
		clk := newFakeClock()
		first := startManager(managerOptions{namespace: ns, clock: clk, poll: fakeClockPoll})

		remind := createWorkflow(remindWorkflow(ns, "remind"))
		var waiting []*v1alpha1.WorkflowRun
		for i := range 3 {
			subject := fmt.Sprintf("c-%d", i)
			waiting = append(waiting, enroll(remind, cloudEvent("conversation.started", fmt.Sprintf("w%d", i), subject, clk.Now(),
				map[string]any{"conversation": map[string]any{"contactId": subject}}), subject))
		}
		// The support hook refuses the first attempt with 503 and Retry-After: 30.
		supportPath := "/notify/" + ns + "/support"
		target.failNext(supportPath, 1)
		flaky := createWorkflow(remindWorkflow(ns, "flaky", fixture.SetRetry(5, "10s"), fixture.SetSteps(fixture.NotifyStep("alert", "alert {{ subject }}")),
			func(wf *v1alpha1.Workflow) { wf.Spec.Connections.Notify.WebhookURLSecretRef.Key = "support-url" }))
		retrying := enroll(flaky, cloudEvent("conversation.started", "r1", "c-r", clk.Now(),
			map[string]any{"conversation": map[string]any{"contactId": "c-r"}}), "c-r")

		for _, run := range waiting {
			Eventually(phaseOf(run)).Should(Equal(v1alpha1.RunWaiting))
		}
		Eventually(func(g Gomega) {
			step := stepOf(getRun(retrying)(g), "alert")
			g.Expect(step.Attempts).To(Equal(int32(1)))
			g.Expect(step.NextAttemptTime).NotTo(BeNil())
		}).Should(Succeed())

		By("stopping the manager while runs wait and one retries, and moving time past both")
		first.stop()
		clk.Step(2 * time.Hour)
		startManager(managerOptions{namespace: ns, clock: clk, poll: fakeClockPoll})

		for _, run := range append(waiting, retrying) {
			Eventually(phaseOf(run)).Should(Equal(v1alpha1.RunSucceeded))
		}
		for _, run := range waiting {
			hits := []hit{}
			for _, h := range target.on("/notify/" + ns + "/sales") {
				if h.IdempotencyKey == string(run.UID)+"/remind" {
					hits = append(hits, h)
				}
			}
			Expect(hits).To(HaveLen(1), "run %s notified once", run.Name)
		}
		Expect(target.on("/notify/" + ns + "/sales")).To(HaveLen(len(waiting)))
		alerts := target.on(supportPath)
		Expect(alerts).To(HaveLen(2)) // the refused attempt and the one after the restart
		Expect(idempotencyKeys(alerts)).To(Equal([]string{string(retrying.UID) + "/alert"}))
		Expect(stepOf(getRun(retrying)(Default), "alert").Attempts).To(Equal(int32(2)))
	})
})
