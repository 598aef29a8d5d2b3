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
	"math/rand/v2"
	"sync"
	"time"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/runner/actions"
	"github.com/crmflow/crmflow/runner/expr"
	"github.com/crmflow/crmflow/runner/template"
	"k8s.io/utils/clock"
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
	// Random returns a number in [0, 1) for retry jitter; nil means math/rand.
	// Tests inject a fixed source.
	Random func() float64
	// Clock measures how long actions take (for ActionRecord.Duration only;
	// decisions use Input.Now). Nil: the real clock.
	Clock clock.PassiveClock
	// MaxOutputBytes caps the JSON of a step's output; 0 means 4096.
	MaxOutputBytes int
}

// Engine compiles workflow specs and advances runs. It is safe for
// concurrent use; compiled programs are cached by spec content.
type Engine struct {
	opts   Options
	env    *expr.Env
	envErr error
	mu     sync.Mutex
	cache  map[[32]byte]*Program
	// shared maps specs that are never modified (resolved revisions) to
	// their program, so a run's pass does not re-hash its spec.
	shared map[*v1alpha1.WorkflowSpec]*Program
	// cacheWeight and sharedWeight are the expressions the two maps hold
	// (see programWeight); each map starts over past maxCachedWeight.
	cacheWeight, sharedWeight int
	clock                     clock.PassiveClock

	// defaultLeadID and defaultTicketID are the compiled defaults of
	// updateLeadStatus.leadId and assignTicket.ticketId.
	defaultLeadID   *template.Template
	defaultTicketID *template.Template
}

// New returns an Engine.
func New(opts Options) *Engine {
	if opts.Random == nil {
		opts.Random = rand.Float64
	}
	if opts.MaxOutputBytes <= 0 {
		opts.MaxOutputBytes = DefaultMaxOutputBytes
	}
	e := &Engine{opts: opts, cache: map[[32]byte]*Program{}, clock: opts.Clock}
	if e.clock == nil {
		e.clock = clock.RealClock{}
	}
	e.env, e.envErr = expr.NewEnv(opts.CostLimit)
	if e.envErr == nil {
		e.defaultLeadID, e.envErr = template.Compile(e.env, "{{ lead.id }}")
	}
	if e.envErr == nil {
		e.defaultTicketID, e.envErr = template.Compile(e.env, "{{ ticket.id }}")
	}
	return e
}

// DefaultMaxOutputBytes caps a step's output JSON when Options sets no cap.
const DefaultMaxOutputBytes = 4096

// Input is what Advance needs to move a run forward.
type Input struct {
	// Run is the run as last read; Advance does not modify it.
	Run *v1alpha1.WorkflowRun
	// Spec is the workflow spec the run executes: the ControllerRevision it
	// references, resolved by the caller, shared and never modified (the
	// engine remembers its program by the pointer). Nil means the run's
	// inline spec.workflow (test runs).
	Spec *v1alpha1.WorkflowSpec
	// WorkflowPaused holds the run at its next step boundary.
	WorkflowPaused bool
	// Secrets resolves secret references in the run's namespace.
	Secrets SecretReader
	// Now is the current time from the caller's injected clock.
	Now time.Time
}

// Transition is something worth a Kubernetes Event: enrollment, a step
// failure, completion.
type Transition struct {
	// Warning marks an Event of type Warning instead of Normal.
	Warning bool
	// Reason is the Event's reason: a v1alpha1.ConditionReason of the run,
	// or the v1alpha1.SkipReason of a run the enrollment policy refused.
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
	// Step is the step's name; Kind its action; Duration how long the
	// attempt took; Err its error, nil on success.
	Step     string
	Kind     string
	Duration time.Duration
	Err      error
}
