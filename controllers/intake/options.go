package intake

import (
	"context"
	"net"
	"time"

	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"

	"github.com/crmflow/crmflow/controllers/intake/request"
	"github.com/crmflow/crmflow/controllers/revision"
	"github.com/crmflow/crmflow/runner"
)

// Defaults of Options.
const (
	DefaultAddr          = ":8090"
	DefaultMaxBodyBytes  = 64 << 10
	DefaultMaxHops       = 8
	DefaultMaxBatch      = 100
	DefaultRetryAfter    = 5 * time.Second
	DefaultFlushInterval = 2 * time.Second
	DefaultEventInterval = time.Minute
	DefaultTimeout       = 10 * time.Second
)

// Options configure the receiver. Zero fields take the defaults above.
type Options struct {
	// Addr is the TCP address to listen on (default ":8090").
	Addr string
	// Listener, when set, is used instead of listening on Addr (tests listen
	// on 127.0.0.1:0 and pass the listener).
	Listener net.Listener
	// Engine compiles workflows and decides triggers, subjects, conditions
	// and start times. Required.
	Engine *runner.Engine
	// Revisions names the workflow revisions runs reference; nil builds one
	// on the manager's client (share the controllers' to share its cache).
	Revisions *revision.Store
	// Clock is the time source (default the real clock).
	Clock clock.WithTicker
	// MaxBodyBytes refuses longer request bodies with 413 (default 64 KiB);
	// it also caps one event's data, the copy kept in a WorkflowRun.
	MaxBodyBytes int64
	// MaxHops refuses enrollment from an event whose crmflowhops is at least
	// this (default 8), counted as skip reason HopLimit.
	MaxHops int32
	// MaxBatch is the most events a batched request may hold (default 100).
	MaxBatch int
	// RetryAfter is sent with 503 answers (default 5s).
	RetryAfter time.Duration
	// RequestTimeout bounds the API work of one request once its body is
	// read (default 10s); past it the answer is 503.
	RequestTimeout time.Duration
	// FlushInterval is how often skip counters and lastTriggeredTime are
	// written to Workflow status (default 2s): a burst of skips costs one
	// write per workflow per interval, not one per event.
	FlushInterval time.Duration
	// EventInterval is the least time between two Kubernetes Events of one
	// workflow and skip reason (default 1m).
	EventInterval time.Duration
	// SignatureTolerance is how far a signed request's X-Crmflow-Timestamp
	// may be from the receiver's clock, either way; older or newer signed
	// requests are refused as replays (default 5m).
	SignatureTolerance time.Duration
	// SkipLog, when set, receives every skipped event once the request that
	// carried it succeeded (main writes them to the run history store). It
	// must not fail the request: it is observability, never an acknowledgement.
	SkipLog func(ctx context.Context, skips []SkippedEvent)
	// Recorder records Kubernetes Events on Workflows; default the manager's
	// recorder named "crmflow-intake".
	Recorder events.EventRecorder
	// MaxEventAge refuses (400) an event whose time is further in the past
	// (default 30 days): a sender replaying a month-old backlog is more
	// likely broken than late.
	MaxEventAge time.Duration
	// MaxClockSkew refuses (400) an event whose time is further in the
	// future (default 1h): a far-future time plus a trigger delay would hold
	// a subject's enrollment for ever.
	MaxClockSkew time.Duration
}

// Defaults of the event time bounds.
const (
	DefaultMaxEventAge  = 30 * 24 * time.Hour
	DefaultMaxClockSkew = time.Hour
)

func (o Options) withDefaults() Options {
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.MaxHops <= 0 {
		o.MaxHops = DefaultMaxHops
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.MaxEventAge <= 0 {
		o.MaxEventAge = DefaultMaxEventAge
	}
	if o.MaxClockSkew <= 0 {
		o.MaxClockSkew = DefaultMaxClockSkew
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = DefaultRetryAfter
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultTimeout
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	if o.SignatureTolerance <= 0 {
		o.SignatureTolerance = request.DefaultSignatureTolerance
	}
	if o.EventInterval <= 0 {
		o.EventInterval = DefaultEventInterval
	}
	return o
}
