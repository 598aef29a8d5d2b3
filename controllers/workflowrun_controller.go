package controllers

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/controllers/index"
	"github.com/crmflow/crmflow/runner"
)

// Advancer moves a run as far as it can without waiting; *runner.Engine is one.
type Advancer interface {
	Advance(ctx context.Context, in runner.Input) (runner.Outcome, error)
}

// WorkflowRunReconciler drives a WorkflowRun through its steps with the
// engine. Everything about a run's progress lives in its status: a wait is a
// wakeAt there plus a RequeueAfter here, so a restarted manager resumes every
// run from what it reads, and a late wake fires at once.
type WorkflowRunReconciler struct {
	client.Client
	// APIReader re-reads a run, uncached, after a write conflict.
	APIReader client.Reader
	// Clock is the only source of "now".
	Clock clock.PassiveClock
	// Engine advances runs.
	Engine Advancer
	// Secrets resolves the Secrets the actions reference.
	Secrets runner.SecretReader
	// Recorder turns the engine's transitions into Kubernetes Events.
	Recorder events.EventRecorder
	// Metrics records runs, steps, action errors and wake lateness; nil records nothing.
	Metrics *Metrics
	// MaxRequeueAfter caps every RequeueAfter; 0 means no cap. Suites that
	// drive a fake clock set it to a fraction of a second: the controller
	// then revisits waiting runs often enough to notice that the fake clock
	// passed their wakeAt. A revisit that changes nothing costs no API
	// write, so the cap changes only how soon a wake is seen.
	MaxRequeueAfter time.Duration
	// MaxConcurrentReconciles is how many runs advance at once (default 1).
	// Runs are independent, so more workers cut wake lateness when many
	// waits end together.
	MaxConcurrentReconciles int

	// known guards against advancing a run from a cache older than our own writes.
	known knownVersions
}

// +kubebuilder:rbac:groups=crmflow.io,resources=workflowruns,verbs=get;list;watch;update;patch;delete
// +kubebuilder:rbac:groups=crmflow.io,resources=workflowruns/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=crmflow.io,resources=workflows,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile advances one run: finished runs only wait for their TTL; others
// are handed to the engine and the outcome is written once.
func (r *WorkflowRunReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	run, err := r.readRun(ctx, req.NamespacedName)
	if err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !run.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	now := r.Clock.Now()
	if run.Status.Phase.IsFinished() {
		return r.reconcileFinished(ctx, run, now)
	}

	paused, err := r.workflowPaused(ctx, run)
	if err != nil {
		return ctrl.Result{}, err
	}
	// The API keeps times to the second. The engine gets "now" at that
	// precision, so every time it records or derives (start times, wakeAt,
	// messages naming them) is exactly what a re-read returns; otherwise the
	// next pass would find a sub-second difference and write it again.
	out, err := r.Engine.Advance(ctx, runner.Input{Run: run, WorkflowPaused: paused, Secrets: r.Secrets, Now: now.Truncate(time.Second)})
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("advance run %s: %w", klog.KObj(run), err)
	}
	r.recordActions(out.Actions)

	// A waiting run whose wake has not come is left exactly as it was: no write.
	if equality.Semantic.DeepEqual(run.Status, out.Status) {
		return r.requeue(out.WakeAt, now), nil
	}
	if run.Status.WakeAt != nil && !now.Before(run.Status.WakeAt.Time) {
		r.Metrics.observeWake(now.Sub(run.Status.WakeAt.Time))
	}
	written, err := r.writeStatus(ctx, run, out.Status)
	if apierrors.IsConflict(err) {
		// Another writer changed the run's status in a way we cannot merge
		// (intake only appends events, which writeStatus merges; this takes
		// a foreign status writer). The next pass reads the run live and
		// advances from what is recorded; steps this pass performed are not
		// recorded, so an attempt may repeat, with the same idempotency key.
		ctrl.LoggerFrom(ctx).Info("run status changed by another writer while advancing; retrying from the stored status")
		return ctrl.Result{RequeueAfter: conflictRetry}, nil
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	r.recordTransitions(written, run.Status.Phase, out)

	if written.Status.Phase.IsFinished() {
		// The finished label and the TTL are handled by the pass that this
		// write's watch event brings. Patching the label here too would
		// patch twice: that pass may still read the run without the label
		// from the cache.
		return ctrl.Result{}, nil
	}
	return r.requeue(out.WakeAt, now), nil
}

// conflictRetry is how soon a run whose status write conflicted is retried.
const conflictRetry = 100 * time.Millisecond

// workflowPaused reports whether the run's Workflow is Paused. A run whose
// Workflow is gone is not held: it is being garbage-collected with its owner.
func (r *WorkflowRunReconciler) workflowPaused(ctx context.Context, run *v1alpha1.WorkflowRun) (bool, error) {
	wf := &v1alpha1.Workflow{}
	err := r.Get(ctx, client.ObjectKey{Namespace: run.Namespace, Name: run.Spec.WorkflowName}, wf)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("get workflow of run %s: %w", klog.KObj(run), err)
	}
	return wf.Spec.State == v1alpha1.WorkflowPaused, nil
}

// requeue turns the engine's wake time into a RequeueAfter: a wake already
// due fires at once, and MaxRequeueAfter caps the wait.
func (r *WorkflowRunReconciler) requeue(wakeAt *time.Time, now time.Time) ctrl.Result {
	if wakeAt == nil {
		return r.capped(0)
	}
	d := wakeAt.Sub(now)
	if d <= 0 {
		d = time.Nanosecond
	}
	return r.capped(d)
}

func (r *WorkflowRunReconciler) capped(d time.Duration) ctrl.Result {
	if r.MaxRequeueAfter > 0 && (d == 0 || d > r.MaxRequeueAfter) {
		d = r.MaxRequeueAfter
	}
	return ctrl.Result{RequeueAfter: d}
}

// SetupWithManager watches runs, and the Workflows whose state changes so
// that runs held by a pause continue on resume.
func (r *WorkflowRunReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.WorkflowRun{}).
		Watches(&v1alpha1.Workflow{},
			handler.EnqueueRequestsFromMapFunc(r.activeRunsOf),
			builder.WithPredicates(stateChanged())).
		Named("workflowrun").
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrentReconciles}).
		Complete(r)
}

// activeRunsOf lists, from the cache, the unfinished runs of a workflow.
func (r *WorkflowRunReconciler) activeRunsOf(ctx context.Context, o client.Object) []reconcile.Request {
	runs := &v1alpha1.WorkflowRunList{}
	if err := r.List(ctx, runs, client.InNamespace(o.GetNamespace()), client.MatchingFields{index.RunByWorkflow: o.GetName()}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "list runs of workflow", "workflow", klog.KObj(o))
		return nil
	}
	var reqs []reconcile.Request
	for i := range runs.Items {
		if !runs.Items[i].Status.Phase.IsFinished() {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&runs.Items[i])})
		}
	}
	return reqs
}

// stateChanged passes Workflow updates that change spec.state.
func stateChanged() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return false },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, ok1 := e.ObjectOld.(*v1alpha1.Workflow)
			n, ok2 := e.ObjectNew.(*v1alpha1.Workflow)
			return ok1 && ok2 && o.Spec.State != n.Spec.State
		},
	}
}
