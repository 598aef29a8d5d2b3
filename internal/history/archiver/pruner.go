package archiver

import (
	"context"
	"time"

	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/crmflow/crmflow/internal/history"
)

// DefaultPruneInterval is how often the Pruner enforces the store's bounds.
const DefaultPruneInterval = time.Hour

// Pruner enforces the store's retention and size bound periodically, on the
// leader only. Add it to the manager with mgr.Add.
type Pruner struct {
	// Store is pruned.
	Store history.Store
	// Clock ticks and tells "now".
	Clock clock.WithTicker
	// Bounds are enforced on every tick and once at start.
	Bounds history.Bounds
	// Interval between prunes (default DefaultPruneInterval).
	Interval time.Duration
	// Metrics counts pruned rows and errors; nil records nothing.
	Metrics *Metrics
}

// Start prunes at once, then every Interval, until ctx ends.
func (p *Pruner) Start(ctx context.Context) error {
	interval := p.Interval
	if interval <= 0 {
		interval = DefaultPruneInterval
	}
	t := p.Clock.NewTicker(interval)
	defer t.Stop()
	for {
		p.prune(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C():
		}
	}
}

// NeedLeaderElection makes the pruner run on the leader only.
func (p *Pruner) NeedLeaderElection() bool { return true }

func (p *Pruner) prune(ctx context.Context) {
	res, err := p.Store.Prune(ctx, p.Clock.Now(), p.Bounds)
	if err != nil {
		if p.Metrics != nil {
			p.Metrics.StoreErrors.WithLabelValues("prune").Inc()
		}
		ctrl.LoggerFrom(ctx).Error(err, "prune the run history store")
		return
	}
	if m := p.Metrics; m != nil {
		m.Pruned.WithLabelValues("runs").Add(float64(res.Runs))
		m.Pruned.WithLabelValues("skips").Add(float64(res.Skips))
		m.Pruned.WithLabelValues("eventKeys").Add(float64(res.EventKeys))
	}
}
