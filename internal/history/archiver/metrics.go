package archiver

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the archiver's Prometheus series.
type Metrics struct {
	// Archived counts runs written to the store (retries of a stored run included once per write).
	Archived prometheus.Counter
	// StoreErrors counts failed store operations by operation (archive, prune).
	StoreErrors *prometheus.CounterVec
	// Lag observes the time from a run's completion to its archiving.
	Lag prometheus.Histogram
	// Waiting is the number of finished runs held in etcd because the store failed.
	Waiting prometheus.Gauge
	// Pruned counts rows removed by retention and the size bound.
	Pruned *prometheus.CounterVec
}

// NewMetrics creates the archiver's metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Archived: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "crmflow_history_archived_runs_total",
			Help: "Finished WorkflowRuns written to the run history store.",
		}),
		StoreErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crmflow_history_store_errors_total",
			Help: "Failed run history store operations, by operation.",
		}, []string{"operation"}),
		Lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "crmflow_history_archive_lag_seconds",
			Help:    "Time from a run's completion until it was written to the history store (the grace included).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 14),
		}),
		Waiting: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "crmflow_history_archive_waiting_runs",
			Help: "Finished runs kept in etcd because the history store failed to take them.",
		}),
		Pruned: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crmflow_history_pruned_rows_total",
			Help: "Rows removed from the history store by retention and the size bound, by kind.",
		}, []string{"kind"}),
	}
	for _, c := range []prometheus.Collector{m.Archived, m.StoreErrors, m.Lag, m.Waiting, m.Pruned} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register history metrics: %w", err)
		}
	}
	return m, nil
}
