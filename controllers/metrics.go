package controllers

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are crmflow's own Prometheus series, served beside
// controller-runtime's on the manager's metrics endpoint.
type Metrics struct {
	// RunsStarted counts runs that took their first step, by namespace and workflow.
	RunsStarted *prometheus.CounterVec
	// RunsFinished counts runs that reached a final phase, by namespace, workflow and phase.
	RunsFinished *prometheus.CounterVec
	// StepDuration observes how long each action attempt took, by action kind.
	StepDuration *prometheus.HistogramVec
	// ActionErrors counts failed action attempts, by action kind.
	ActionErrors *prometheus.CounterVec
	// WakeLateness observes how long after its wakeAt a waiting run advanced.
	WakeLateness prometheus.Histogram
	// ScheduledRuns counts runs created for cron ticks, by namespace and workflow.
	ScheduledRuns *prometheus.CounterVec
}

// NewMetrics creates crmflow's metrics and registers them with reg (in the
// manager: sigs.k8s.io/controller-runtime/pkg/metrics.Registry).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		RunsStarted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crmflow_runs_started_total",
			Help: "WorkflowRuns that took their first step, by namespace and workflow.",
		}, []string{"namespace", "workflow"}),
		RunsFinished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crmflow_runs_finished_total",
			Help: "WorkflowRuns that finished, by namespace, workflow and final phase.",
		}, []string{"namespace", "workflow", "phase"}),
		StepDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "crmflow_step_duration_seconds",
			Help:    "Duration of each action attempt, by action kind.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 10),
		}, []string{"kind"}),
		ActionErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crmflow_action_errors_total",
			Help: "Failed action attempts, by action kind.",
		}, []string{"kind"}),
		WakeLateness: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "crmflow_wake_lateness_seconds",
			Help:    "How long after its wakeAt a waiting WorkflowRun advanced.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300},
		}),
		ScheduledRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crmflow_scheduled_runs_total",
			Help: "WorkflowRuns created for cron ticks, by namespace and workflow.",
		}, []string{"namespace", "workflow"}),
	}
	for _, c := range []prometheus.Collector{m.RunsStarted, m.RunsFinished, m.StepDuration, m.ActionErrors, m.WakeLateness, m.ScheduledRuns} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// ObserveWake records how late a waiting run advanced after its wakeAt; a nil
// Metrics records nothing.
func (m *Metrics) ObserveWake(d time.Duration) {
	if m == nil {
		return
	}
	m.WakeLateness.Observe(d.Seconds())
}
