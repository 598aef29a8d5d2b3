package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// Simulation names the offline run Simulate builds.
const (
	SimulationName      = "simulation"
	SimulationNamespace = "default"
	SimulationUID       = "simulation"
)

// maxSimulationRounds bounds Simulate's virtual-clock loop.
const maxSimulationRounds = 1000

// Simulate runs a dry run of spec for event offline to the end, moving a
// virtual clock, for `kubectl crmflow test`. simulated resolves
// waitForEvent steps in order (without one a wait times out). Nothing is
// sent and no Secret is read. The error is *CompileError for an invalid spec.
func (e *Engine) Simulate(ctx context.Context, spec *v1alpha1.WorkflowSpec, event *v1alpha1.CloudEvent, simulated []v1alpha1.CloudEvent, now time.Time) (v1alpha1.WorkflowRunStatus, error) {
	p, err := e.Compile(spec)
	if err != nil {
		return v1alpha1.WorkflowRunStatus{}, err
	}
	subject, err := p.Subject(event, now)
	if err != nil {
		return v1alpha1.WorkflowRunStatus{}, fmt.Errorf("simulate: %w", err)
	}
	run := &v1alpha1.WorkflowRun{
		ObjectMeta: metav1.ObjectMeta{Name: SimulationName, Namespace: SimulationNamespace, UID: SimulationUID, CreationTimestamp: metav1.NewTime(now)},
		Spec: v1alpha1.WorkflowRunSpec{WorkflowName: SimulationName, Workflow: spec.DeepCopy(), Subject: subject,
			Event: event.DeepCopy(), DryRun: true, SimulatedEvents: simulated},
	}
	for i := 0; i < maxSimulationRounds; i++ {
		out, err := e.Advance(ctx, Input{Run: run, Now: now})
		if err != nil {
			return run.Status, fmt.Errorf("simulate: %w", err)
		}
		run.Status = out.Status
		if run.Status.Phase.IsFinished() {
			return run.Status, nil
		}
		if out.WakeAt == nil {
			return run.Status, errors.New("simulate: the run waits without a deadline")
		}
		if out.WakeAt.After(now) {
			now = *out.WakeAt
		}
	}
	return run.Status, fmt.Errorf("simulate: the run did not finish within %d rounds", maxSimulationRounds)
}
