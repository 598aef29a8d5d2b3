// Package runner is crmflow's engine, free of Kubernetes machinery: given a
// workflow snapshot, a run's state, delivered events and a clock, it decides
// the next steps, evaluates CEL, renders templates, performs (or, in a dry
// run, describes) actions, and returns the new status and when to wake.
//
// It imports our API types but never client-go or controller-runtime; the
// controllers translate between the API server and this package.
package runner

import (
	"context"
	"time"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/runner/actions"
)

// SecretReader reads Secrets of one namespace for the action executors.
// Controllers implement it with a cached client; tests with a map.
type SecretReader interface {
	// Secret returns the data of Secret name in namespace, or an error that
	// names both when it is missing.
	Secret(ctx context.Context, namespace, name string) (map[string][]byte, error)
}

// Options configure an Engine.
type Options struct {
	// Executor performs rendered actions. Required unless every run is a dry run.
	Executor actions.Executor
	// CRMSinkURL is the default sink for contact and CRM commands when a
	// workflow's connections.crm.sinkURL is unset.
	CRMSinkURL string
	// CostLimit bounds the CEL cost of one evaluation; 0 means the default.
	CostLimit uint64
	// MaxHops is copied into outgoing events' loop metadata decisions.
	MaxHops int32
}

// Input is what Advance needs to move a run forward.
type Input struct {
	// Run is the run as last read; Advance does not modify it.
	Run *v1alpha1.WorkflowRun
	// WorkflowPaused holds the run at its next step boundary.
	WorkflowPaused bool
	// Secrets resolves secret references in the run's namespace.
	Secrets SecretReader
	// Now is the current time from the caller's injected clock.
	Now time.Time
}

// Transition is something worth a Kubernetes Event: enrolment, a step
// failure, completion.
type Transition struct {
	// Warning marks an Event of type Warning instead of Normal.
	Warning bool
	// Reason is a CamelCase reason from the v1alpha1 Reason constants.
	Reason string
	// Message is for people.
	Message string
}

// Outcome is the result of Advance.
type Outcome struct {
	// Status is the run's complete new status, to be written in one update.
	Status v1alpha1.WorkflowRunStatus
	// WakeAt is when Advance must be called again; nil when the run finished
	// or waits only for an event without a deadline.
	WakeAt *time.Time
	// Transitions to record as Kubernetes Events, in order.
	Transitions []Transition
	// Actions performed in this call (kind, outcome, duration), for metrics.
	Actions []ActionRecord
}

// ActionRecord describes one attempt of one action, for metrics.
type ActionRecord struct {
	Step     string
	Kind     string
	Duration time.Duration
	Err      error
}
