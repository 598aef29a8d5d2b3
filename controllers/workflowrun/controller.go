package workflowrun

import (
	"context"
	"errors"
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
	"github.com/crmflow/crmflow/controllers"
	"github.com/crmflow/crmflow/controllers/index"
	"github.com/crmflow/crmflow/controllers/revision"
	"github.com/crmflow/crmflow/runner"
)

// Advancer moves a run as far as it can without waiting; *runner.Engine is one.
type Advancer interface {
	Advance(ctx context.Context, in runner.Input) (runner.Outcome, error)
}

// EventDeduper answers whether an event already enrolled a workflow in a run
// that has left etcd (the run history store keeps that key). Nil: runs are
// deduplicated only while they exist.
type EventDeduper interface {
	HasEvent(ctx context.Context, namespace, workflow, source, id string) (bool, error)
}

// WorkflowRunReconciler drives a WorkflowRun through its steps with the
// engine. It is the only writer of a run's status. Everything about a run's
// progress lives in that status: a wait is a wakeAt there plus a
// RequeueAfter here, so a restarted manager resumes every run from what it
// reads, and a late wake fires at once.
//
// An instant run costs one status write: admission (the enrolment policy),
// the conditions and every step are decided and performed in the first pass
// and written together.
type WorkflowRunReconciler struct {
	client.Client
	// APIReader reads a run live when the cache may be older than our own
	// last write, and confirms a conflict.
	APIReader client.Reader
	// Clock is the only source of "now".
	Clock clock.PassiveClock
	// Engine advances runs.
	Engine Advancer
	// Revisions resolves the workflow revision a run executes.
	Revisions *revision.Store
	// Secrets resolves the Secrets the actions reference.
	Secrets runner.SecretReader
	// Recorder emits Kubernetes Events for what a person must see: failures,
	// retries, holds, enrolment skips; rate-limited per workflow and reason.
	Recorder events.EventRecorder
	// Metrics records runs, steps, action errors and wake lateness; nil records nothing.
	Metrics *controllers.Metrics
	// Counters receives enrolment skips decided here, for the Workflow's status.
	Counters *controllers.RunCounters
	// Dedup, when set, refuses a new run whose event already enrolled the
	// workflow in a run that was archived and removed from etcd.
	Dedup EventDeduper
	// FinishedRunsArchived: finished runs are archived to the run history
	// store, so they stay in etcd only ArchiveGrace after they finish
	// instead of their workflow's ttlAfterFinished.
	FinishedRunsArchived bool
	// ArchiveGrace is how long an archived run stays in etcd (default 1m).
	ArchiveGrace time.Duration
	// MaxRequeueAfter caps every RequeueAfter; 0 means no cap. Suites that
	// drive a fake clock set it to a fraction of a second so waiting runs
	// notice that the fake clock passed their wakeAt. A revisit that changes
	// nothing costs no API write.
	MaxRequeueAfter time.Duration
	// MaxConcurrentReconciles is how many runs advance at once (default 1).
	MaxConcurrentReconciles int

	// known guards against advancing a run from a cache older than our own writes.
	known knownVersions
	// events rate-limits Kubernetes Events.
	events eventLimiter
}

// +kubebuilder:rbac:groups=crmflow.io,resources=workflowruns,verbs=get;list;watch;update;patch;delete
// +kubebuilder:rbac:groups=crmflow.io,resources=workflowruns/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=crmflow.io,resources=workflows,verbs=get;list;watch
// +kubebuilder:rbac:groups=apps,resources=controllerrevisions,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;create
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile advances one run: finished runs only wait for their TTL; a new
// run is admitted under its workflow's enrolment policy; then the engine
// advances it and the outcome is written once.
func (r *WorkflowRunReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	run, err := r.readRun(ctx, req.NamespacedName)
	if err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !run.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	now := r.Clock.Now()
	spec, rev, specErr := r.specOf(ctx, run)
	if run.Status.Phase.IsFinished() {
		return r.reconcileFinished(ctx, run, spec, now)
	}
	var out runner.Outcome
	switch {
	case specErr != nil && !apierrors.IsNotFound(specErr):
		return ctrl.Result{}, specErr
	case specErr != nil:
		out = failedOutcome(run, now, v1alpha1.ReasonInvalidWorkflow, "the workflow revision is gone: "+specErr.Error())
	default:
		adm, err := r.admit(ctx, run, spec, now)
		switch {
		case err != nil:
			return ctrl.Result{}, err
		case adm.wait:
			return ctrl.Result{RequeueAfter: admissionRetry}, nil // an older run of the subject goes first
		case adm.skip != nil:
			out = *adm.skip
		}
		if adm.skip != nil {
			break
		}
		paused, err := r.workflowPaused(ctx, run)
		if err != nil {
			return ctrl.Result{}, err
		}
		out, err = r.Engine.Advance(ctx, runner.Input{Run: run, Spec: spec, WorkflowPaused: paused, Secrets: r.Secrets, Now: now})
		if err != nil {
			return ctrl.Result{}, fmt.Errorf("advance run %s: %w", klog.KObj(run), err)
		}
		r.recordActions(out.Actions)
	}
	if rev != "" && run.Spec.WorkflowRevision == "" {
		out.Status.WorkflowRevision = rev
	}
	if out.Status.Phase.IsFinished() && out.Status.RemoveAfter == "" {
		out.Status.RemoveAfter = r.removeAfter(run, &out.Status, spec)
	}

	// A waiting run whose wake has not come is left exactly as it was: no write.
	if equality.Semantic.DeepEqual(run.Status, out.Status) {
		return r.requeue(out.WakeAt, now), nil
	}
	if run.Status.WakeAt != nil && !now.Before(run.Status.WakeAt.Time) {
		r.Metrics.ObserveWake(now.Sub(run.Status.WakeAt.Time))
	}
	written, err := r.writeStatus(ctx, run, out.Status)
	if err != nil {
		// A conflict with a status we did not write: the workqueue's backoff
		// retries from a live read. Steps this pass performed are not
		// recorded, so an attempt may repeat, with the same idempotency key.
		return ctrl.Result{}, err
	}
	r.recordTransitions(written, run.Status.Phase, out)
	if written.Status.Phase.IsFinished() {
		return r.reconcileFinished(ctx, written, spec, now)
	}
	return r.requeue(out.WakeAt, now), nil
}

// admissionRetry is how soon a run waits for an older run of its subject to be admitted.
const admissionRetry = 200 * time.Millisecond

// specOf resolves the workflow spec a run executes: its inline spec, the
// revision it references, or (a test run naming neither) the Workflow's
// current revision. It also returns the revision it resolved.
func (r *WorkflowRunReconciler) specOf(ctx context.Context, run *v1alpha1.WorkflowRun) (*v1alpha1.WorkflowSpec, string, error) {
	if run.Spec.Workflow != nil {
		return run.Spec.Workflow, "", nil
	}
	name := index.Revision(run)
	if name == "" {
		wf := &v1alpha1.Workflow{}
		if err := r.Get(ctx, client.ObjectKey{Namespace: run.Namespace, Name: run.Spec.WorkflowName}, wf); err != nil {
			return nil, "", fmt.Errorf("workflow %s of run %s: %w", run.Spec.WorkflowName, klog.KObj(run), err)
		}
		var err error
		if name, err = r.Revisions.Ensure(ctx, wf); err != nil {
			return nil, "", err
		}
	}
	spec, err := r.Revisions.Spec(ctx, run.Namespace, name)
	if err != nil {
		return nil, name, fmt.Errorf("revision %s of run %s: %w", name, klog.KObj(run), err)
	}
	return spec, name, nil
}

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
	if r.Revisions == nil {
		return errors.New("workflowrun controller: Revisions is required (controllers.NewShared)")
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.WorkflowRun{}).
		Watches(&v1alpha1.Workflow{},
			handler.EnqueueRequestsFromMapFunc(r.activeRunsOf),
			builder.WithPredicates(stateChanged())).
		Named("workflowrun").
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrentReconciles}).
		Complete(r)
}

// activeRunsOf lists, from the cache index of unfinished runs, the runs of a workflow.
func (r *WorkflowRunReconciler) activeRunsOf(ctx context.Context, o client.Object) []reconcile.Request {
	runs := &v1alpha1.WorkflowRunList{}
	if err := r.List(ctx, runs, client.InNamespace(o.GetNamespace()), client.MatchingFields{index.ActiveRunByWorkflow: o.GetName()}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "list runs of workflow", "workflow", klog.KObj(o))
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(runs.Items))
	for i := range runs.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&runs.Items[i])})
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
