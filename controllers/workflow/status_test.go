package workflow

import (
	"errors"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/controllers"
)

func TestApplyDelta(t *testing.T) {
	g := NewWithT(t)
	d := controllers.RunDelta{Active: 0, Succeeded: 1, Failed: 1, Skips: []v1alpha1.SkipCount{{Reason: v1alpha1.SkipActiveRun, Count: 1}}}
	wf := &v1alpha1.Workflow{Status: v1alpha1.WorkflowStatus{Runs: v1alpha1.RunCounts{Active: 9, Succeeded: 10, Failed: 2}}}
	applyDelta(wf, d)
	g.Expect(wf.Status.Runs).To(Equal(v1alpha1.RunCounts{Active: 0, Succeeded: 11, Failed: 3}), "totals accumulate, active is the current count")
	g.Expect(wf.Status.SkippedEvents).To(ConsistOf(HaveField("Reason", v1alpha1.SkipActiveRun)))
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
	g.Expect(paused.Reason).To(Equal(v1alpha1.SkipPaused))
	g.Expect(paused.Count).To(BeEquivalentTo(5))
	g.Expect(paused.LastTime.Time).To(Equal(later))
	g.Expect(paused.LastMessage).To(HaveLen(1024))
	g.Expect(wf.Status.SkippedEvents[1]).To(And(HaveField("Reason", v1alpha1.SkipConditionsNotMet), HaveField("Count", BeEquivalentTo(1))))
}

func TestSetReadyCondition(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		status metav1.ConditionStatus
		reason v1alpha1.ConditionReason
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
			g.Expect(*c).To(And(HaveField("Status", tc.status), HaveField("Reason", tc.reason.String()),
				HaveField("Message", tc.msg), HaveField("ObservedGeneration", BeEquivalentTo(3))))
			g.Expect(isReady(wf)).To(Equal(tc.err == nil))
			g.Expect(readyMessage(wf)).To(Equal(tc.msg))
		})
	}
}
