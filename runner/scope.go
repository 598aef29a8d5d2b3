package runner

import (
	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/runner/expr"
)

// vars are the variables for guards, templates and waits: the triggering
// event, subject, now, steps, run and workflow. They are rebuilt only after
// a step changed.
func (a *advance) vars() map[string]any {
	if a.scope == nil {
		a.scope = expr.With(a.base, a.run.Spec.Subject, a.now, a.runVars())
	}
	return a.scope
}

// eventVars are the variables for an arriving event (waitForEvent filters,
// exit goals): event, data and the entity names come from that event.
func (a *advance) eventVars(ev *v1alpha1.CloudEvent) (map[string]any, error) {
	base, err := expr.EventVars(ev)
	if err != nil {
		return nil, err
	}
	return expr.With(base, a.run.Spec.Subject, a.now, a.runVars()), nil
}

// runVars are steps, run and workflow. steps is bound lazily: CEL builds
// it only for expressions that read it.
func (a *advance) runVars() map[string]any {
	return map[string]any{
		expr.VarSteps: func() any { return a.stepsVar() },
		expr.VarRun: map[string]any{
			"name": a.run.Name, "namespace": a.run.Namespace, "uid": string(a.run.UID), "dryRun": a.run.Spec.DryRun,
		},
		expr.VarWorkflow: map[string]any{"name": a.run.Spec.WorkflowName, "namespace": a.run.Namespace},
	}
}

// stepsVar maps every step name to {phase, received, timedOut, event,
// output}; steps not reached yet have phase "" and empty values, so guards
// such as !steps["await-reply"].received work on every path.
func (a *advance) stepsVar() map[string]any {
	out := make(map[string]any, len(a.spec.Steps))
	for i := range a.spec.Steps {
		s := &a.spec.Steps[i]
		out[s.Name] = map[string]any{"phase": "", "received": false, "timedOut": false, "event": map[string]any{}, "output": map[string]any{}}
	}
	for i := range a.st.Steps {
		ss := &a.st.Steps[i]
		o := decodeOutput(ss.Output)
		entry := map[string]any{"phase": string(ss.Phase), "received": false, "timedOut": false, "event": map[string]any{}, "output": o}
		if b, ok := o["received"].(bool); ok {
			entry["received"] = b
		}
		if b, ok := o["timedOut"].(bool); ok {
			entry["timedOut"] = b
		}
		if ev, ok := o["event"].(map[string]any); ok {
			entry["event"] = ev
		}
		out[ss.Name] = entry
	}
	return out
}
