//go:build !unit

package e2e

import (
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/controllers/workflowrun"
	"github.com/crmflow/crmflow/test/fixture"
)

// Finished runs leave etcd a minute at a time, by one collection delete,
// and never before the run history store holds them.
var _ = Describe("Removing finished runs", func() {
	It("keeps a due minute while one of its runs is not archived, then removes it whole", func() {
		ns := newNamespace()
		clk := newFakeClock()
		startManager(managerOptions{namespace: ns, clock: clk, poll: fakeClockPoll, noCleaner: true})
		event := func(id, subject string) v1alpha1.CloudEvent {
			return cloudEvent("conversation.started", id, subject, clk.Now(), map[string]any{"conversation": map[string]any{"contactId": subject}})
		}
		wf := createWorkflow(remindWorkflow(ns, "gone", fixture.SetHistory(10, "1h"), fixture.SetSteps(fixture.NotifyStep("remind", "now"))))
		a := enroll(wf, event("g1", "c-1"), "c-1")
		b := enroll(wf, event("g2", "c-2"), "c-2")
		Eventually(phaseOf(a)).Should(Equal(v1alpha1.RunSucceeded))
		Eventually(phaseOf(b)).Should(Equal(v1alpha1.RunSucceeded))
		runA, runB := getRun(a)(Default), getRun(b)(Default)
		Expect(runA.Status.RemoveAfter).To(Equal(runB.Status.RemoveAfter), "both finished in the same minute")

		var mu sync.Mutex
		archived := map[types.UID]bool{runA.UID: true}
		cleaner := &workflowrun.RunCleaner{Client: k8sClient, Clock: clk, Archived: func(uid types.UID) bool {
			mu.Lock()
			defer mu.Unlock()
			return archived[uid]
		}}
		clk.Step(2 * time.Hour)
		Expect(cleaner.Sweep(suiteCtx)).To(Succeed())
		Expect(k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(runA), &v1alpha1.WorkflowRun{})).To(Succeed(),
			"the minute waits for its unarchived run")

		mu.Lock()
		archived[runB.UID] = true
		mu.Unlock()
		Expect(cleaner.Sweep(suiteCtx)).To(Succeed())
		for _, r := range []*v1alpha1.WorkflowRun{runA, runB} {
			Eventually(func() bool {
				return apierrors.IsNotFound(k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(r), &v1alpha1.WorkflowRun{}))
			}).Should(BeTrue())
		}
	})
})
