// Package archiver moves finished WorkflowRuns from etcd to the run history
// store: each finished run is written to the store (idempotent on its UID) and
// only then deleted from the API server, after a short grace, so one of the
// two always holds it, and its deduplication key, whatever crashes between.
package archiver

import (
	"context"
	"errors"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/controllers"
	"github.com/crmflow/crmflow/internal/history"
)

// Defaults of the archiver's knobs.
const (
	// DefaultGrace is how long a finished run stays in etcd before it is archived and deleted.
	DefaultGrace = 10 * time.Second
	// DefaultBatchSize caps the runs written in one store transaction.
	DefaultBatchSize = 100
	// DefaultRetryBase and DefaultRetryMax bound the backoff while the store fails.
	DefaultRetryBase = time.Second
	// DefaultRetryMax caps the backoff while the store fails.
	DefaultRetryMax = 2 * time.Minute
	// DefaultWarningInterval is the least time between two Warning Events about the store.
	DefaultWarningInterval = 5 * time.Minute
)

// Archiver is the leader-only reconciler that archives finished runs.
type Archiver struct {
	// Client reads runs (from the cache) and deletes them.
	Client client.Client
	// Store receives the runs.
	Store history.Store
	// Clock is the only source of "now".
	Clock clock.PassiveClock
	// Recorder emits the rate-limited Warning Event when the store fails; nil emits none.
	Recorder events.EventRecorder
	// Metrics records lag, rows and store errors; nil records nothing.
	Metrics *Metrics
	// Grace keeps a finished run in etcd this long after its completion (default DefaultGrace;
	// negative: none), so watchers and `kubectl wait` see it finish.
	Grace time.Duration
	// BatchSize caps a store transaction (default DefaultBatchSize).
	BatchSize int
	// MaxConcurrentReconciles is how many runs are archived at once; they share batches (default 16).
	MaxConcurrentReconciles int
	// RetryBase and RetryMax bound the per-run backoff while the store fails.
	RetryBase, RetryMax time.Duration
	// WarningInterval is the least time between two Warning Events (default DefaultWarningInterval).
	WarningInterval time.Duration

	batch *batcher
	// archived holds the runs stored, until a while after they left etcd
	// (a reconcile queued before the removal must not store them again).
	archived   map[types.UID]time.Time // zero: still in etcd; else when it left
	archivedMu sync.Mutex

	mu       sync.Mutex
	waiting  map[types.UID]bool
	lastWarn time.Time
}

// +kubebuilder:rbac:groups=crmflow.io,resources=workflowruns,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile archives one finished run once its grace has passed.
func (a *Archiver) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var run v1alpha1.WorkflowRun
	if err := a.Client.Get(ctx, req.NamespacedName, &run); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !run.Status.Phase.IsFinished() || !run.DeletionTimestamp.IsZero() || a.Archived(run.UID) {
		return ctrl.Result{}, nil
	}
	now := a.Clock.Now()
	finished := run.CreationTimestamp.Time
	if run.Status.CompletionTime != nil {
		finished = run.Status.CompletionTime.Time
	}
	if wait := finished.Add(a.grace()).Sub(now); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	// Dry runs sent nothing and enrolled no one: they are removed, not archived.
	if !run.Spec.DryRun {
		rec := history.RecordFromRun(&run)
		if err := a.batch.write(ctx, &rec); err != nil {
			a.storeFailed(ctx, &run, err)
			return ctrl.Result{}, err
		}
		a.stored(run.UID, now.Sub(finished))
	}
	// Written here, removed from etcd by workflowrun.RunCleaner, which takes
	// a minute of runs only once Archived says each of them is stored: a
	// crash in between leaves the run in etcd, and the next attempt's write
	// is a no-op on its UID.
	a.archivedMu.Lock()
	if a.archived == nil {
		a.archived = map[types.UID]time.Time{}
	}
	a.archived[run.UID] = time.Time{}
	a.archivedMu.Unlock()
	return ctrl.Result{}, nil
}

// Archived reports whether this archiver stored the run (since it started;
// after a restart it stores every finished run in etcd again, a no-op on
// the UID). Dry runs are never archived.
func (a *Archiver) Archived(uid types.UID) bool {
	a.archivedMu.Lock()
	defer a.archivedMu.Unlock()
	_, ok := a.archived[uid]
	return ok
}

// forgetAfter is how long a removed run is still known as archived.
const forgetAfter = 5 * time.Minute

// Forget notes runs that left etcd; they are forgotten a while later.
func (a *Archiver) Forget(uids []types.UID) {
	now := a.Clock.Now()
	a.archivedMu.Lock()
	defer a.archivedMu.Unlock()
	for _, uid := range uids {
		if _, ok := a.archived[uid]; ok {
			a.archived[uid] = now
		}
	}
	for uid, gone := range a.archived {
		if !gone.IsZero() && now.Sub(gone) > forgetAfter {
			delete(a.archived, uid)
		}
	}
}

func (a *Archiver) grace() time.Duration {
	switch {
	case a.Grace < 0:
		return 0
	case a.Grace == 0:
		return DefaultGrace
	}
	return a.Grace
}

func (a *Archiver) stored(uid types.UID, lag time.Duration) {
	a.mu.Lock()
	delete(a.waiting, uid)
	waiting := len(a.waiting)
	a.mu.Unlock()
	if m := a.Metrics; m != nil {
		m.Archived.Inc()
		m.Lag.Observe(lag.Seconds())
		m.Waiting.Set(float64(waiting))
	}
}

// storeFailed counts the failure and, at most once per WarningInterval, says
// so with a Warning Event on the run that waits.
func (a *Archiver) storeFailed(ctx context.Context, run *v1alpha1.WorkflowRun, err error) {
	a.mu.Lock()
	a.waiting[run.UID] = true
	waiting := len(a.waiting)
	now := a.Clock.Now()
	interval := a.WarningInterval
	if interval <= 0 {
		interval = DefaultWarningInterval
	}
	warn := a.lastWarn.IsZero() || now.Sub(a.lastWarn) >= interval
	if warn {
		a.lastWarn = now
	}
	a.mu.Unlock()
	if m := a.Metrics; m != nil {
		m.StoreErrors.WithLabelValues("archive").Inc()
		m.Waiting.Set(float64(waiting))
	}
	if warn && a.Recorder != nil {
		msg := "the run history store is unavailable; finished runs wait in the API server until it is back"
		if errors.Is(err, context.DeadlineExceeded) {
			msg = "the run history store did not answer in time; finished runs wait in the API server until it does"
		}
		a.Recorder.Eventf(run, nil, corev1.EventTypeWarning, v1alpha1.ReasonHistoryStoreUnavailable.String(), "Archive", "%s (%d waiting)", msg, waiting)
	}
}

// SetupWithManager registers the archiver and its batch writer, both on the
// leader only; they see finished runs only.
func (a *Archiver) SetupWithManager(mgr ctrl.Manager) error {
	if a.BatchSize <= 0 {
		a.BatchSize = DefaultBatchSize
	}
	if a.MaxConcurrentReconciles <= 0 {
		a.MaxConcurrentReconciles = 16
	}
	if a.RetryBase <= 0 {
		a.RetryBase = DefaultRetryBase
	}
	if a.RetryMax <= 0 {
		a.RetryMax = DefaultRetryMax
	}
	a.waiting = map[types.UID]bool{}
	a.batch = newBatcher(a.Store, a.BatchSize, 30*time.Second)
	if err := mgr.Add(a.batch); err != nil {
		return err
	}
	finished := predicate.NewPredicateFuncs(func(o client.Object) bool {
		run, ok := o.(*v1alpha1.WorkflowRun)
		return ok && run.Status.Phase.IsFinished()
	})
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.WorkflowRun{}, builder.WithPredicates(finished)).
		Named("history-archiver").
		WithOptions(controller.Options{
			MaxConcurrentReconciles: a.MaxConcurrentReconciles,
			RateLimiter:             workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](a.RetryBase, a.RetryMax),
		}).
		Complete(controllers.StopQuietly(a))
}
