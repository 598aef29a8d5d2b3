package workflow

import (
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// setReadyCondition records whether the spec validated: Ready, and Stalled
// while it does not (Flux's error policy); the error is the message
// verbatim, field paths and CEL positions included.
func setReadyCondition(wf *v1alpha1.Workflow, compileErr error) {
	c := metav1.Condition{
		Type:               v1alpha1.WorkflowReady,
		Status:             metav1.ConditionTrue,
		Reason:             v1alpha1.ReasonCompileSucceeded.String(),
		Message:            "every expression and template compiled",
		ObservedGeneration: wf.Generation,
	}
	if compileErr == nil {
		meta.SetStatusCondition(&wf.Status.Conditions, c)
		meta.RemoveStatusCondition(&wf.Status.Conditions, v1alpha1.WorkflowStalled)
		return
	}
	c.Status = metav1.ConditionFalse
	c.Reason = v1alpha1.ReasonCompileFailed.String()
	c.Message = truncate(compileErr.Error(), 32768)
	meta.SetStatusCondition(&wf.Status.Conditions, c)
	c.Type, c.Status, c.Reason = v1alpha1.WorkflowStalled, metav1.ConditionTrue, v1alpha1.ReasonInvalidSpec.String()
	meta.SetStatusCondition(&wf.Status.Conditions, c)
}

func isReady(wf *v1alpha1.Workflow) bool {
	return meta.IsStatusConditionTrue(wf.Status.Conditions, v1alpha1.WorkflowReady)
}

func readyMessage(wf *v1alpha1.Workflow) string {
	if c := meta.FindStatusCondition(wf.Status.Conditions, v1alpha1.WorkflowReady); c != nil {
		return c.Message
	}
	return ""
}

// addSkip adds n skipped triggers for reason to the workflow's counters.
func addSkip(wf *v1alpha1.Workflow, reason v1alpha1.SkipReason, n int, at time.Time, message string) {
	if n <= 0 {
		return
	}
	t := metav1.NewTime(at)
	for i := range wf.Status.SkippedEvents {
		s := &wf.Status.SkippedEvents[i]
		if s.Reason == reason {
			s.Count += int64(n)
			s.LastTime = &t
			s.LastMessage = truncate(message, 1024)
			return
		}
	}
	wf.Status.SkippedEvents = append(wf.Status.SkippedEvents, v1alpha1.SkipCount{
		Reason: reason, Count: int64(n), LastTime: &t, LastMessage: truncate(message, 1024),
	})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
