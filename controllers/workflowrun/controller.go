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

// Reconciler drives a WorkflowRun through its steps with the
// engine. It is the only writer of a run's status. Everything about a run's
// progress lives in that status: a wait is a wakeAt there plus a
// RequeueAfter here, so a restarted manager resumes every run from what it
// reads, and a late wake fires at once.
//
// An instant run costs one status write: admission (the enrollment policy),
// the conditions and every step are decided and performed in the first pass
// and written together.
type Reconciler struct {
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
	// retries, holds, enrollment skips; rate-limited per workflow and reason.
	Recorder events.EventRecorder
	// Metrics records runs, steps, action errors and wake lateness; nil records nothing.
	Metrics *controllers.Metrics
	// Counters receives enrollment skips decided here, for the Workflow's status.
	Counters *controllers.RunCounters
	// Dedup, when set, refuses a new run whose event already enrolled the
	// workflow in a run that was archived and removed from etcd.
	Dedup EventDeduper
	// FinishedRunsArchived: finished runs are archived to the run history
	// store, so they stay in etcd only ArchiveGrace after they finish
	// instead of their workflow's ttlAfterFinished.
	FinishedRunsArchived bool
	// ArchiveGrace is how long an archived run stays in etcd (default archiver.DefaultGrace).
	ArchiveGrace time.Duration
	// Requeue turns the waits of runs (measured on Clock) into
	// RequeueAfter; nil, the wait itself (see controllers.RequeuePolicy). A
	// revisit that changes nothing costs no API write.
	Requeue controllers.RequeuePolicy
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

// Reconcile advances one run in ordered phases over a per-pass scope: the
// revision it executes is resolved, a new run is admitted under its
// workflow's enrollment policy, and the engine advances it. The outcome is
// written once, deferred, and only when it changed the status; a finished
// run only waits for its TTL.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	run, err := r.readRun(ctx, req.NamespacedName)
	if err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !run.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	s := &scope{run: run, now: r.Clock.Now()}
	s.spec, s.rev, s.specErr = r.specOf(ctx, run)
	if run.Status.Phase.IsFinished() {
		return r.reconcileFinished(ctx, run, s.spec, s.now)
	}
	defer func() {
		if retErr != nil || s.out == nil {
			return // nothing decided: nothing to write
		}
		res, err := r.writeOutcome(ctx, s)
		if err != nil {
			result, retErr = ctrl.Result{}, err
			return
		}
		result = controllers.LowestNonZeroResult(result, res)
	}()
	return controllers.RunPhases(ctx, s, r.reconcileOwner, r.reconcileRevision, r.reconcileAdmission, r.reconcileSteps)
}

// scope is one pass over one run: the run as read (never changed), the
// spec it executes, and the outcome the phases decided.
type scope struct {
	run *v1alpha1.WorkflowRun
	now time.Time
	// spec is the workflow spec the run executes, rev the revision it was
	// resolved from, specErr why it could not be.
	spec    *v1alpha1.WorkflowSpec
	rev     string
	specErr error
	// owner is the run's Workflow, read by reconcileOwner.
	owner workflowOwner
	// done: a phase decided the pass; later phases do nothing.
	done bool
	// out is the outcome to write; nil writes nothing.
	out *runner.Outcome
}

// decide records the pass's outcome; later phases do nothing.
func (s *scope) decide(out *runner.Outcome) {
	s.out, s.done = out, true
}

// reconcileOwner reads the run's Workflow and ends a run whose Workflow was
// deleted, or replaced by a new one of the same name, before it acts again.
func (r *Reconciler) reconcileOwner(ctx context.Context, s *scope) (ctrl.Result, error) {
	owner, err := r.ownerOf(ctx, s.run)
	if err != nil {
		return ctrl.Result{}, err
	}
	s.owner = owner
	if owner.orphaned != "" {
		out := endedOutcome(s.run, s.now, v1alpha1.RunCancelled, v1alpha1.ReasonWorkflowDeleted, owner.orphaned)
		s.decide(&out)
	}
	return ctrl.Result{}, nil
}

// reconcileRevision fails a run whose workflow revision is gone; any other
// error reading it is retried.
func (r *Reconciler) reconcileRevision(_ context.Context, s *scope) (ctrl.Result, error) {
	var message string
	switch {
	case s.done, s.specErr == nil:
		return ctrl.Result{}, nil
	case errors.Is(s.specErr, revision.ErrInvalid), errors.Is(s.specErr, errInlineRealRun):
		message = s.specErr.Error()
	case apierrors.IsNotFound(s.specErr):
		message = "the workflow revision is gone: " + s.specErr.Error()
	default:
		return ctrl.Result{}, s.specErr
	}
	failed := failedOutcome(s.run, s.now, v1alpha1.ReasonInvalidWorkflow, message)
	s.decide(&failed)
	return ctrl.Result{}, nil
}

// reconcileAdmission applies the enrollment policy to a new run: it waits
// for an older run of its subject, or ends as not admitted.
func (r *Reconciler) reconcileAdmission(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.done {
		return ctrl.Result{}, nil
	}
	adm, err := r.admit(ctx, s.run, s.spec, s.now)
	switch {
	case err != nil:
		return ctrl.Result{}, err
	case adm.wait:
		s.done = true // an older run of the subject goes first; nothing to write
		return ctrl.Result{RequeueAfter: admissionRetry}, nil
	case adm.skip != nil:
		s.decide(adm.skip)
	}
	return ctrl.Result{}, nil
}

// reconcileSteps advances the run with the engine as far as it goes
// without waiting, performing its actions.
func (r *Reconciler) reconcileSteps(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.done {
		return ctrl.Result{}, nil
	}
	paused := s.owner.wf != nil && s.owner.wf.Spec.State == v1alpha1.WorkflowPaused
	out, err := r.Engine.Advance(ctx, runner.Input{Run: s.run, Spec: s.spec, WorkflowPaused: paused, Secrets: r.Secrets, Now: s.now})
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("advance run %s: %w", klog.KObj(s.run), err)
	}
	r.recordActions(out.Actions)
	s.decide(&out)
	return ctrl.Result{}, nil
}

// writeOutcome is the pass's one status write. A waiting run whose wake has
// not come is left exactly as it was: no write. Events and metrics of the
// transitions follow only a write that succeeded.
func (r *Reconciler) writeOutcome(ctx context.Context, s *scope) (ctrl.Result, error) {
	out := s.out
	completeStatus(s.run, &out.Status, s.rev, r.retention(s.spec))
	if equality.Semantic.DeepEqual(s.run.Status, out.Status) {
		return r.requeue(out.WakeAt, s.now), nil
	}
	if wake := s.run.Status.WakeAt; wake != nil && !s.now.Before(wake.Time) {
		r.Metrics.ObserveWake(s.now.Sub(wake.Time))
	}
	written, err := r.writeStatus(ctx, s.run, out.Status)
	if err != nil {
		// A conflict with a status we did not write: the workqueue's backoff
		// retries from a live read. Steps this pass performed are not
		// recorded, so an attempt may repeat, with the same idempotency key.
		return ctrl.Result{}, err
	}
	r.recordTransitions(written, s.run.Status.Phase, out)
	if written.Status.Phase.IsFinished() {
		return r.reconcileFinished(ctx, written, s.spec, s.now)
	}
	return r.requeue(out.WakeAt, s.now), nil
}

// admissionRetry is how soon a run waits for an older run of its subject to be admitted.
const admissionRetry = 200 * time.Millisecond

// errInlineRealRun: a run that would act carries its own spec.workflow.
var errInlineRealRun = errors.New("spec.workflow (an inline spec) is for test runs only: a run that acts references its Workflow's revision; set spec.dryRun: true to test a spec")

// specOf resolves the workflow spec a run executes: its inline spec, the
// revision it references, or (a test run naming neither) the Workflow's
// current revision. It also returns the revision it resolved.
func (r *Reconciler) specOf(ctx context.Context, run *v1alpha1.WorkflowRun) (*v1alpha1.WorkflowSpec, string, error) {
	if run.Spec.Workflow != nil {
		if !run.Spec.DryRun {
			// Admission refuses this; the check here holds where the
			// webhook is off or bypassed, on every pass (a dry run turned
			// real later included): an inline spec was never reviewed or
			// activated as a Workflow, so it must not act.
			return nil, "", errInlineRealRun
		}
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
	spec, err := r.Revisions.Spec(ctx, run.Namespace, name, run.Spec.WorkflowName)
	if err != nil {
		return nil, name, fmt.Errorf("revision %s of run %s: %w", name, klog.KObj(run), err)
	}
	return spec, name, nil
}

// requeue turns the engine's wake time into a RequeueAfter: a wake already
// due fires at once; no wake waits for watch events only.
func (r *Reconciler) requeue(wakeAt *time.Time, now time.Time) ctrl.Result {
	if wakeAt == nil {
		return r.after(0)
	}
	d := wakeAt.Sub(now)
	if d <= 0 {
		d = time.Nanosecond
	}
	return r.after(d)
}

// after is the result of a wait of d on Clock, through the Requeue policy.
func (r *Reconciler) after(d time.Duration) ctrl.Result {
	return ctrl.Result{RequeueAfter: controllers.RequeueAfter(r.Requeue, d)}
}

// SetupWithManager watches runs, and the Workflows whose state changes so
// that runs held by a pause continue on resume.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Revisions == nil {
		return errors.New("workflowrun controller: Revisions is required (controllers.NewShared)")
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.WorkflowRun{}).
		Watches(&v1alpha1.Workflow{},
			handler.EnqueueRequestsFromMapFunc(r.activeRunsOf),
			builder.WithPredicates(stateChanged())).
		Named("workflowrun").
		WithLogConstructor(controllers.LogConstructor(mgr.GetLogger(), "workflowrun", v1alpha1.GroupVersion.WithKind("WorkflowRun"))).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrentReconciles}).
		Complete(controllers.StopQuietly(r))
}

// activeRunsOf lists, from the cache index of unfinished runs, the runs of a workflow.
func (r *Reconciler) activeRunsOf(ctx context.Context, o client.Object) []reconcile.Request {
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
