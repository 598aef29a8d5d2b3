package runner

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// setCondition sets a run condition, stamping transitions with the input clock.
func (a *advance) setCondition(typ string, status metav1.ConditionStatus, reason v1alpha1.ConditionReason, msg string) {
	meta.SetStatusCondition(&a.st.Conditions, metav1.Condition{
		Type: typ, Status: status, Reason: reason.String(), Message: truncate(msg, 32768),
		ObservedGeneration: a.run.Generation, LastTransitionTime: *a.metaNow(),
	})
}

// finish ends the run: phase, completion time, Succeeded condition, result.
func (a *advance) finish(phase v1alpha1.RunPhase, reason v1alpha1.ConditionReason, msg string) {
	a.done = true
	a.st.Phase = phase
	a.st.CompletionTime = a.metaNow()
	a.st.CurrentStep = ""
	a.st.WakeAt = nil
	a.st.WaitingFor = nil
	a.st.Result = reason
	a.st.Message = truncate(msg, 2048)
	status := metav1.ConditionFalse
	if phase == v1alpha1.RunSucceeded {
		status = metav1.ConditionTrue
	}
	a.setCondition(v1alpha1.RunSucceededCondition, status, reason, msg)
	a.transition(phase != v1alpha1.RunSucceeded, reason, msg)
}

// transition records something worth a Kubernetes Event.
func (a *advance) transition(warning bool, reason v1alpha1.ConditionReason, msg string) {
	a.out.Transitions = append(a.out.Transitions, Transition{Warning: warning, Reason: reason.String(), Message: truncate(msg, 1024)})
}
