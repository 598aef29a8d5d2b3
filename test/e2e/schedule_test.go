//go:build !unit

package e2e

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/controllers/enrollment"
	"github.com/crmflow/crmflow/test/fixture"
)

// hourly turns the weekly sample into an hourly UTC schedule with a one-hour deadline.
func hourly() fixture.WorkflowOption {
	return func(wf *v1alpha1.Workflow) {
		wf.Spec.Trigger.Schedule.Cron = "0 * * * *"
		wf.Spec.Trigger.Schedule.TimeZone = "UTC"
		wf.Spec.Trigger.Schedule.StartingDeadlineSeconds = ptr.To[int64](3600)
	}
}

func runNames(ns string) func(Gomega) []string {
	return func(g Gomega) []string {
		list := &v1alpha1.WorkflowRunList{}
		g.Expect(k8sClient.List(suiteCtx, list, client.InNamespace(ns))).To(Succeed())
		var names []string
		for i := range list.Items {
			r := &list.Items[i]
			names = append(names, r.Name)
		}
		return names
	}
}

func getWorkflow(wf *v1alpha1.Workflow) func(Gomega) *v1alpha1.Workflow {
	return func(g Gomega) *v1alpha1.Workflow {
		got := &v1alpha1.Workflow{}
		g.Expect(k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(wf), got)).To(Succeed())
		return got
	}
}

func skipCount(wf *v1alpha1.Workflow, reason v1alpha1.SkipReason) int64 {
	for _, s := range wf.Status.SkippedEvents {
		if s.Reason == reason {
			return s.Count
		}
	}
	return 0
}

var _ = Describe("Schedule triggers", func() {
	It("fires each cron tick once across restarts, runs a missed tick within the deadline, and skips while paused", func() {
		ns := newNamespace()
		h1 := time.Now().UTC().Truncate(time.Hour).Add(time.Hour)
		clk := clocktesting.NewFakeClock(h1.Add(-time.Minute))
		first := startManager(managerOptions{namespace: ns, clock: clk, poll: fakeClockPoll})
		wf := createWorkflow(sample("weekly-digest", ns, hourly()))
		tickRun := func(t time.Time) string { return enrollment.TickRunName(wf.Name, t) }

		Eventually(func(g Gomega) {
			got := getWorkflow(wf)(g)
			g.Expect(got.Status.NextScheduleTime).NotTo(BeNil())
			g.Expect(got.Status.NextScheduleTime.Time).To(BeTemporally("==", h1))
		}).Should(Succeed())
		Expect(runNames(ns)(Default)).To(BeEmpty())

		By("firing the first tick")
		clk.SetTime(h1.Add(5 * time.Second))
		Eventually(runNames(ns)).Should(ConsistOf(tickRun(h1)))
		run := &v1alpha1.WorkflowRun{}
		Expect(k8sClient.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: tickRun(h1)}, run)).To(Succeed())
		Expect(run.Labels).To(HaveKeyWithValue(v1alpha1.LabelTrigger, "schedule"))
		Expect(run.Labels).To(HaveKeyWithValue(v1alpha1.LabelWorkflow, wf.Name))
		Expect(run.Spec.Subject).To(Equal("sales-team"))
		Expect(run.Spec.Event.Type).To(Equal(enrollment.TickEventType))
		Expect(run.Spec.Event.ID).To(Equal(h1.Format(time.RFC3339)))
		Expect(run.Spec.ScheduledTime.Time).To(BeTemporally("==", h1))
		Expect(run.OwnerReferences).To(ConsistOf(And(HaveField("Name", wf.Name), HaveField("Controller", ptr.To(true)))))
		Eventually(func(g Gomega) {
			last := getWorkflow(wf)(g).Status.LastScheduleTime
			g.Expect(last).NotTo(BeNil(), "lastScheduleTime not written yet")
			g.Expect(last.Time).To(BeTemporally("==", h1))
		}).Should(Succeed())
		Eventually(phaseOf(run)).Should(Equal(v1alpha1.RunSucceeded))

		By("stopping the manager over two ticks; the latest is within the deadline")
		first.stop()
		clk.SetTime(h1.Add(2*time.Hour + 10*time.Minute))
		second := startManager(managerOptions{namespace: ns, clock: clk, poll: fakeClockPoll})
		h3 := h1.Add(2 * time.Hour)
		Eventually(runNames(ns)).Should(ConsistOf(tickRun(h1), tickRun(h3)))
		Eventually(func(g Gomega) {
			got := getWorkflow(wf)(g)
			g.Expect(got.Status.LastScheduleTime.Time).To(BeTemporally("==", h3))
			g.Expect(got.Status.NextScheduleTime.Time).To(BeTemporally("==", h3.Add(time.Hour)))
			g.Expect(skipCount(got, v1alpha1.SkipMissedSchedule)).To(Equal(int64(1)))
		}).Should(Succeed())

		By("restarting again at the same moment: nothing is created twice")
		second.stop()
		startManager(managerOptions{namespace: ns, clock: clk, poll: fakeClockPoll})
		Consistently(runNames(ns), "2s", "200ms").Should(ConsistOf(tickRun(h1), tickRun(h3)))

		By("pausing: the next tick is counted, not run")
		setState(wf, v1alpha1.WorkflowPaused)
		clk.SetTime(h3.Add(time.Hour + 5*time.Second))
		Eventually(func(g Gomega) {
			got := getWorkflow(wf)(g)
			g.Expect(skipCount(got, v1alpha1.SkipPaused)).To(Equal(int64(1)))
			g.Expect(got.Status.LastScheduleTime.Time).To(BeTemporally("==", h3.Add(time.Hour)))
		}).Should(Succeed())
		Expect(runNames(ns)(Default)).To(ConsistOf(tickRun(h1), tickRun(h3)))
	})

	It("runs an edited schedule from the edit on, not the new schedule's ticks that passed before it", func() {
		ns := newNamespace()
		h1 := time.Now().UTC().Truncate(time.Hour).Add(time.Hour)
		clk := clocktesting.NewFakeClock(h1.Add(-time.Minute))
		startManager(managerOptions{namespace: ns, clock: clk, poll: fakeClockPoll})
		wf := createWorkflow(sample("weekly-digest", ns, hourly()))
		tickRun := func(t time.Time) string { return enrollment.TickRunName(wf.Name, t) }
		Eventually(func(g Gomega) { g.Expect(getWorkflow(wf)(g).Status.NextScheduleTime).NotTo(BeNil()) }).Should(Succeed())
		clk.SetTime(h1.Add(5 * time.Second))
		Eventually(runNames(ns)).Should(ConsistOf(tickRun(h1)))
		Eventually(func(g Gomega) {
			g.Expect(getWorkflow(wf)(g).Status.LastScheduleTime).NotTo(BeNil())
		}).Should(Succeed())

		By("moving the hourly tick from :00 to :30 at :40; :30 of this hour was never a tick while it passed")
		edited := h1.Add(40 * time.Minute)
		clk.SetTime(edited)
		patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"trigger":{"schedule":{"cron":"30 * * * *"}}}}`))
		Expect(k8sClient.Patch(suiteCtx, wf.DeepCopy(), patch)).To(Succeed())
		Eventually(func(g Gomega) {
			got := getWorkflow(wf)(g)
			g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
			g.Expect(got.Status.NextScheduleTime.Time).To(BeTemporally("==", h1.Add(90*time.Minute)))
		}).Should(Succeed())
		Consistently(runNames(ns), "2s", "200ms").Should(ConsistOf(tickRun(h1)))
		Expect(skipCount(getWorkflow(wf)(Default), v1alpha1.SkipMissedSchedule)).To(BeZero())

		By("the edited schedule's first tick runs")
		clk.SetTime(h1.Add(90*time.Minute + 5*time.Second))
		Eventually(runNames(ns)).Should(ConsistOf(tickRun(h1), tickRun(h1.Add(90*time.Minute))))
	})

	It("never fires a Draft schedule and counts its ticks as Draft", func() {
		ns := newNamespace()
		h1 := time.Now().UTC().Truncate(time.Hour).Add(time.Hour)
		clk := clocktesting.NewFakeClock(h1.Add(-time.Minute))
		startManager(managerOptions{namespace: ns, clock: clk, poll: fakeClockPoll})
		wf := createWorkflow(sample("weekly-digest", ns, hourly(), fixture.SetState(v1alpha1.WorkflowDraft)))
		Eventually(func(g Gomega) { g.Expect(getWorkflow(wf)(g).Status.NextScheduleTime).NotTo(BeNil()) }).Should(Succeed())
		clk.SetTime(h1.Add(time.Second))
		Eventually(func(g Gomega) {
			g.Expect(skipCount(getWorkflow(wf)(g), v1alpha1.SkipDraft)).To(Equal(int64(1)))
		}).Should(Succeed())
		Consistently(runNames(ns), "1s", "100ms").Should(BeEmpty())
	})
})

var _ = Describe("Schedule enrollment", func() {
	It("skips a tick while the previous tick's run is active (Forbid) and cancels that run for the next tick (Replace)", func() {
		ns := newNamespace()
		h1 := time.Now().UTC().Truncate(time.Hour).Add(time.Hour)
		clk := clocktesting.NewFakeClock(h1.Add(-time.Minute))
		startManager(managerOptions{namespace: ns, clock: clk, poll: fakeClockPoll})
		// A 60-character name: its runs are labelled and selected like any other.
		name := "weekly-pipeline-review-for-the-enterprise-sales-team-eu-west"
		Expect(name).To(HaveLen(60))
		wf := createWorkflow(sample("weekly-digest", ns, hourly(), fixture.SetName(name),
			fixture.SetSteps(fixture.WaitStep("hold", "24h"))))
		Expect(wf.Spec.Enrollment.Defaulted().Concurrency).To(Equal(v1alpha1.ConcurrencyForbid))
		tickRun := func(t time.Time) *v1alpha1.WorkflowRun {
			return &v1alpha1.WorkflowRun{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: enrollment.TickRunName(wf.Name, t)}}
		}
		Eventually(func(g Gomega) { g.Expect(getWorkflow(wf)(g).Status.NextScheduleTime).NotTo(BeNil()) }).Should(Succeed())

		By("the first tick's run waits")
		clk.SetTime(h1.Add(5 * time.Second))
		first := tickRun(h1)
		Eventually(phaseOf(first)).Should(Equal(v1alpha1.RunWaiting))
		run := getRun(first)(Default)
		Expect(run.Labels).To(HaveKeyWithValue(v1alpha1.LabelWorkflow, name))
		Expect(run.Labels).To(HaveKeyWithValue(v1alpha1.LabelTrigger, v1alpha1.TriggerSchedule))
		byWorkflow := &v1alpha1.WorkflowRunList{}
		Expect(k8sClient.List(suiteCtx, byWorkflow, client.InNamespace(ns), client.MatchingFields{"spec.workflowName": name})).To(Succeed())
		Expect(byWorkflow.Items).To(ConsistOf(HaveField("Name", first.Name)), "what kubectl crmflow runs selects")

		By("Forbid: the next tick is counted as ActiveRun and creates nothing")
		h2 := h1.Add(time.Hour)
		clk.SetTime(h2.Add(5 * time.Second))
		Eventually(func(g Gomega) {
			got := getWorkflow(wf)(g)
			g.Expect(got.Status.LastScheduleTime.Time).To(BeTemporally("==", h2))
			g.Expect(skipCount(got, v1alpha1.SkipActiveRun)).To(Equal(int64(1)))
		}).Should(Succeed())
		Expect(runNames(ns)(Default)).To(ConsistOf(first.Name))

		By("Replace: the next tick cancels the waiting run and runs")
		patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"enrollment":{"concurrency":"Replace"}}}`))
		Expect(k8sClient.Patch(suiteCtx, wf.DeepCopy(), patch)).To(Succeed())
		h3 := h2.Add(time.Hour)
		clk.SetTime(h3.Add(5 * time.Second))
		third := tickRun(h3)
		Eventually(phaseOf(third)).Should(Equal(v1alpha1.RunWaiting))
		Eventually(phaseOf(first)).Should(Equal(v1alpha1.RunCancelled))
		Expect(runNames(ns)(Default)).To(ConsistOf(first.Name, third.Name))
		Expect(skipCount(getWorkflow(wf)(Default), v1alpha1.SkipActiveRun)).To(Equal(int64(1)))
	})
})
