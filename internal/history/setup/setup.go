// Package setup wires the run history into a manager: the store, the
// archiver and pruner (leader only), and the HTTPS API (every replica).
package setup

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/crmflow/crmflow/controllers/workflowrun"
	"github.com/crmflow/crmflow/internal/history"
	"github.com/crmflow/crmflow/internal/history/api"
	"github.com/crmflow/crmflow/internal/history/archiver"
	"github.com/crmflow/crmflow/internal/history/sqlstore"
)

// Config is the history's part of the manager's flags.
type Config struct {
	// DSN is a SQLite file path or a postgres:// URL; empty disables the history.
	DSN string
	// BindAddress of the HTTPS API; empty or "0" serves no API.
	BindAddress string
	// CertDir holds the API's tls.crt and tls.key; empty serves a self-signed certificate.
	CertDir string
	// Bounds are the store's retention and size bound.
	Bounds history.Bounds
	// Grace keeps finished runs in etcd this long after they finish (the run
	// controller writes it as status.removeAfter); they are archived at once.
	Grace time.Duration
	// CleanupInterval is how often archived runs whose removeAfter slot is
	// due leave etcd (default v1alpha1.RemoveAfterSlot, 10s).
	CleanupInterval time.Duration
}

// Disabled is the --history-dsn value that turns the run history off.
const Disabled = "none"

// Setup opens the store (applying migrations) and adds the archiver, the
// pruner, the API and the RunCleaner that removes archived runs from etcd
// to mgr, registering metrics on reg. It returns the store (nil when
// disabled) for other users such as the run controller's deduplication; the
// manager does not close it.
func Setup(ctx context.Context, mgr ctrl.Manager, reg prometheus.Registerer, clk clock.WithTicker, c Config) (history.Store, error) {
	if c.DSN == "" || c.DSN == Disabled {
		return nil, nil
	}
	store, err := sqlstore.Open(ctx, c.DSN, sqlstore.Options{})
	if err != nil {
		return nil, err
	}
	m, err := archiver.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	// The grace is the run controller's (status.removeAfter): a run is
	// archived as soon as it finishes, and leaves etcd with its slot.
	a := &archiver.Archiver{
		Client:   mgr.GetClient(),
		Store:    store,
		Clock:    clk,
		Recorder: mgr.GetEventRecorder("crmflow-history"),
		Metrics:  m,
		Grace:    -1,
	}
	if err := a.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("set up the history archiver: %w", err)
	}
	if err := mgr.Add(&workflowrun.RunCleaner{Client: mgr.GetClient(), Clock: clk, Interval: c.CleanupInterval,
		Archived: a.Archived, Removed: a.Forget}); err != nil {
		return nil, fmt.Errorf("set up the finished-run cleaner: %w", err)
	}
	if err := mgr.Add(&archiver.Pruner{Store: store, Clock: clk, Bounds: c.Bounds, Metrics: m}); err != nil {
		return nil, fmt.Errorf("set up the history pruner: %w", err)
	}
	if c.BindAddress != "" && c.BindAddress != "0" {
		srv := api.NewServer(store, mgr.GetClient(), api.Options{Clock: clk, Log: ctrl.Log.WithName("history-api")})
		if err := mgr.Add(&api.Listener{Addr: c.BindAddress, CertDir: c.CertDir, Server: srv}); err != nil {
			return nil, fmt.Errorf("set up the history API: %w", err)
		}
	}
	return store, nil
}
