package controllers

import (
	"errors"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

func TestCountRuns(t *testing.T) {
	cases := []struct {
		name    string
		runs    []v1alpha1.WorkflowRun
		deleted map[string]bool
		want    v1alpha1.RunCounts
	}{
		{name: "no runs", want: v1alpha1.RunCounts{}},
		{
			name: "every phase lands in its counter; not-finished phases are active",
			runs: []v1alpha1.WorkflowRun{
				newRun("new"), newRun("pending", inPhase(v1alpha1.RunPending)), newRun("running", inPhase(v1alpha1.RunRunning)),
				newRun("waiting", inPhase(v1alpha1.RunWaiting)), newRun("ok-1", inPhase(v1alpha1.RunSucceeded)),
				newRun("ok-2", inPhase(v1alpha1.RunSucceeded)), newRun("failed", inPhase(v1alpha1.RunFailed)),
				newRun("cancelled", inPhase(v1alpha1.RunCancelled)),
			},
			want: v1alpha1.RunCounts{Active: 4, Succeeded: 2, Failed: 1, Cancelled: 1},
		},
		{
			name: "runs deleted in this pass or being deleted are left out",
			runs: []v1alpha1.WorkflowRun{
				newRun("ok-1", inPhase(v1alpha1.RunSucceeded)), newRun("ok-2", inPhase(v1alpha1.RunSucceeded)),
				newRun("going", inPhase(v1alpha1.RunWaiting), beingDeleted()), newRun("failed", inPhase(v1alpha1.RunFailed)),
			},
			deleted: map[string]bool{"ok-1": true, "failed": true},
			want:    v1alpha1.RunCounts{Succeeded: 1},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			NewWithT(t).Expect(countRuns(tc.runs, tc.deleted)).To(Equal(tc.want))
		})
	}
}

func TestAddSkip(t *testing.T) {
	g := NewWithT(t)
	wf := &v1alpha1.Workflow{}
	addSkip(wf, "Paused", 0, t0, "nothing")
	g.Expect(wf.Status.SkippedEvents).To(BeEmpty(), "n=0 adds nothing")

	addSkip(wf, "Paused", 2, t0, "paused")
	addSkip(wf, "ConditionsNotMet", 1, t0, "false")
	later := t0.Add(time.Hour)
	addSkip(wf, "Paused", 3, later, strings.Repeat("x", 2000))
	g.Expect(wf.Status.SkippedEvents).To(HaveLen(2))
	paused := wf.Status.SkippedEvents[0]
	g.Expect(paused.Reason).To(Equal("Paused"))
	g.Expect(paused.Count).To(BeEquivalentTo(5))
	g.Expect(paused.LastTime.Time).To(Equal(later))
	g.Expect(paused.LastMessage).To(HaveLen(1024))
	g.Expect(wf.Status.SkippedEvents[1]).To(And(HaveField("Reason", "ConditionsNotMet"), HaveField("Count", BeEquivalentTo(1))))
}

func TestSetReadyCondition(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		status metav1.ConditionStatus
		reason string
		msg    string
	}{
		{"compiled", nil, metav1.ConditionTrue, v1alpha1.ReasonCompileSucceeded, "every expression and template compiled"},
		{"compile error verbatim", errors.New("spec.steps[0].if: 1:4: Syntax error"), metav1.ConditionFalse, v1alpha1.ReasonCompileFailed, "spec.steps[0].if: 1:4: Syntax error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			wf := &v1alpha1.Workflow{ObjectMeta: metav1.ObjectMeta{Generation: 3}}
			setReadyCondition(wf, tc.err)
			c := meta.FindStatusCondition(wf.Status.Conditions, v1alpha1.WorkflowReady)
			g.Expect(c).NotTo(BeNil())
			g.Expect(*c).To(And(HaveField("Status", tc.status), HaveField("Reason", tc.reason),
				HaveField("Message", tc.msg), HaveField("ObservedGeneration", BeEquivalentTo(3))))
			g.Expect(isReady(wf)).To(Equal(tc.err == nil))
			g.Expect(readyMessage(wf)).To(Equal(tc.msg))
		})
	}
}
