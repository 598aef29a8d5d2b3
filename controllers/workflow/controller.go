package workflow

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/controllers"
	"github.com/crmflow/crmflow/controllers/revision"
)

// CompileFunc validates a workflow spec (main wraps runner.Engine.Validate,
// the validation the admission webhook runs); its error becomes the Ready
// and Stalled conditions' message verbatim.
type CompileFunc func(spec *v1alpha1.WorkflowSpec) error

// Reconciler keeps a Workflow's status: Ready (the spec compiled),
// the current revision of its spec, run counts (kept incrementally by
// RunCounters, written at most once per flush interval), the schedule's
// ticks; it creates the runs of a schedule trigger, keeps the revisions runs
// still need, and deletes finished runs beyond the history limit when no
// archiver removes them.
//
// It shares the status with intake, which owns skippedEvents (except the
// schedule's reasons) and lastTriggeredTime, so it writes with a merge patch
// carrying only the fields it changed and the resourceVersion it read.
type Reconciler struct {
	client.Client
	// Clock is the only source of "now".
	Clock clock.PassiveClock
	// Compile checks a spec; main wraps runner.Engine.Compile.
	Compile CompileFunc
	// Revisions creates the revision of the current spec.
	Revisions *revision.Store
	// Counters keeps run counts per workflow.
	Counters *controllers.RunCounters
	// Recorder emits Kubernetes Events for compile failures and schedule ticks.
	Recorder events.EventRecorder
	// Metrics counts scheduled runs; nil records nothing.
	Metrics *controllers.Metrics
	// FinishedRunsArchived: an archiver removes finished runs from etcd, so
	// the history limit is not applied here.
	FinishedRunsArchived bool
	// Requeue turns the wait for the next cron tick into a RequeueAfter;
	// nil, the wait itself (see controllers.RequeuePolicy).
	Requeue controllers.RequeuePolicy
}

// +kubebuilder:rbac:groups=crmflow.io,resources=workflows,verbs=get;list;watch
// +kubebuilder:rbac:groups=crmflow.io,resources=workflows/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=crmflow.io,resources=workflowruns,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=apps,resources=controllerrevisions,verbs=get;list;watch;create;delete

// Reconcile compiles the workflow, keeps its revisions, counts its runs,
// prunes its history, acts on due cron ticks, and writes what changed in
// one status patch, deferred until every phase ran. Its work does not grow
// with the number of runs stored.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	wf := &v1alpha1.Workflow{}
	if err := r.Get(ctx, req.NamespacedName, wf); err != nil {
		if apierrors.IsNotFound(err) {
			r.Counters.Forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !wf.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	s := &scope{key: req.NamespacedName, base: wf.DeepCopy(), wf: wf, now: r.Clock.Now()}
	defer func() {
		if retErr == nil { // a failed phase writes nothing; its retry reads afresh
			if retErr = r.writeStatus(ctx, s); retErr != nil {
				result = ctrl.Result{}
			}
		}
	}()
	return controllers.RunPhases(ctx, s,
		r.reconcileSpec,
		func(ctx context.Context, s *scope) (ctrl.Result, error) {
			return ctrl.Result{}, r.pruneRevisions(ctx, s.wf)
		},
		func(ctx context.Context, s *scope) (ctrl.Result, error) {
			return ctrl.Result{}, r.pruneHistory(ctx, s.wf)
		},
		r.reconcileCounts,
		r.reconcileTrigger,
	)
}

// scope is one pass over one Workflow: the object as read, the copy whose
// status the phases change, and what they found on the way.
type scope struct {
	key types.NamespacedName
	// base is the Workflow as read; the status patch is computed against it.
	base *v1alpha1.Workflow
	// wf is the Workflow the phases change.
	wf  *v1alpha1.Workflow
	now time.Time
	// compileErr is why the spec is invalid; nil when it compiled.
	compileErr error
	// delta is the run counts added to the status, committed once written.
	delta controllers.RunDelta
	// scheduleEdited: this pass is the first to see a new cron expression or
	// time zone (or a schedule trigger replacing another kind).
	scheduleEdited bool
}

// reconcileSpec compiles the spec into the Ready and Stalled conditions (an
// Event when it newly fails) and records the revision of a valid spec.
func (r *Reconciler) reconcileSpec(ctx context.Context, s *scope) (ctrl.Result, error) {
	s.compileErr = r.compile(s.wf)
	setReadyCondition(s.wf, s.compileErr)
	if s.compileErr != nil {
		if isReady(s.base) || readyMessage(s.base) != s.compileErr.Error() {
			r.event(s.wf, true, v1alpha1.ReasonCompileFailed, s.compileErr.Error())
		}
		return ctrl.Result{}, nil
	}
	name, err := r.Revisions.Ensure(ctx, s.wf)
	if err != nil {
		return ctrl.Result{}, err
	}
	if prev := s.base.Status.CurrentRevision; prev != "" && prev != name && s.wf.Spec.Trigger.Schedule != nil {
		if s.scheduleEdited, err = r.scheduleEdited(ctx, s.wf, prev); err != nil {
			return ctrl.Result{}, err
		}
	}
	s.wf.Status.CurrentRevision = name
	return ctrl.Result{}, nil
}

// reconcileCounts adds the run counts not yet written to the status.
func (r *Reconciler) reconcileCounts(_ context.Context, s *scope) (ctrl.Result, error) {
	s.delta = r.Counters.Pending(s.key)
	applyDelta(s.wf, s.delta)
	return ctrl.Result{}, nil
}

// reconcileTrigger acts on the schedule of a valid spec and marks the
// generation observed; an invalid spec is not observed and schedules nothing.
func (r *Reconciler) reconcileTrigger(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.compileErr != nil || s.wf.Spec.Trigger.Schedule == nil {
		s.wf.Status.NextScheduleTime = nil
	}
	if s.compileErr != nil {
		return ctrl.Result{}, nil
	}
	s.wf.Status.ObservedGeneration = s.wf.Generation
	if s.wf.Spec.Trigger.Schedule == nil {
		return ctrl.Result{}, nil
	}
	return r.reconcileSchedule(ctx, s.wf, s.now, s.scheduleEdited)
}

// writeStatus is the pass's one status write, and commits the counts it
// carried. A conflict (intake, or our previous pass not yet in the cache,
// wrote first) is returned: the workqueue's backoff retries from a fresh
// read, and LogConstructor keeps it out of the error log. Counts not written
// stay pending, and runs created by this pass are named after their tick, so
// the retry re-creates nothing.
func (r *Reconciler) writeStatus(ctx context.Context, s *scope) error {
	if err := r.patchStatus(ctx, s.base, s.wf); err != nil {
		return err
	}
	r.Counters.Commit(s.key, s.delta)
	return nil
}

// requeueAfter is the RequeueAfter of a wait of d on Clock.
func (r *Reconciler) requeueAfter(d time.Duration) time.Duration {
	return controllers.RequeueAfter(r.Requeue, d)
}

// applyDelta adds the counts not yet written to the status's totals.
func applyDelta(wf *v1alpha1.Workflow, d controllers.RunDelta) {
	wf.Status.Runs.Active = d.Active
	wf.Status.Runs.Succeeded += d.Succeeded
	wf.Status.Runs.Failed += d.Failed
	wf.Status.Runs.Cancelled += d.Cancelled
	for _, s := range d.Skips {
		at := time.Time{}
		if s.LastTime != nil {
			at = s.LastTime.Time
		}
		addSkip(wf, s.Reason, int(s.Count), at, s.LastMessage)
	}
}

// compile checks the spec with the engine and, for a schedule trigger, the
// cron expression and time zone, so Ready tells every spec problem.
func (r *Reconciler) compile(wf *v1alpha1.Workflow) error {
	if r.Compile != nil {
		if err := r.Compile(&wf.Spec); err != nil {
			return err
		}
	}
	if s := wf.Spec.Trigger.Schedule; s != nil {
		if _, err := parseSchedule(s); err != nil {
			return err
		}
	}
	return nil
}

// patchStatus sends a merge patch of the status fields this pass changed,
// with the resourceVersion read as a precondition: a conflict (intake wrote
// meanwhile) fails the pass, which is retried from a fresh read. Nothing
// changed, nothing written.
func (r *Reconciler) patchStatus(ctx context.Context, base, wf *v1alpha1.Workflow) error {
	if equality.Semantic.DeepEqual(base.Status, wf.Status) {
		return nil
	}
	if err := r.Status().Patch(ctx, wf, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("patch status of workflow %s: %w", klog.KObj(wf), err)
	}
	return nil
}

func (r *Reconciler) event(wf *v1alpha1.Workflow, warning bool, reason v1alpha1.ConditionReason, message string) {
	if r.Recorder == nil {
		return
	}
	kind := "Normal"
	if warning {
		kind = "Warning"
	}
	r.Recorder.Eventf(wf, nil, kind, reason.String(), "Reconcile", "%s", message)
}

// SetupWithManager watches Workflows and their runs: a run created,
// finished or deleted updates its workflow's counts and asks for one status
// write per flush interval.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Revisions == nil || r.Counters == nil {
		return errors.New("workflow controller: Revisions and Counters are required (controllers.NewShared)")
	}
	// Only spec changes (and creation) of a Workflow reconcile it at once:
	// its own status writes, and intake's, must not, or every write would
	// bring the next one while runs finish. Counts come through the run
	// watch, one write per flush interval; cron ticks through RequeueAfter.
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.Workflow{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WatchesRawSource(source.Kind(mgr.GetCache(), &v1alpha1.WorkflowRun{}, r.Counters.Handler())).
		Named("workflow").
		WithLogConstructor(controllers.LogConstructor(mgr.GetLogger(), "workflow", v1alpha1.GroupVersion.WithKind("Workflow"))).
		Complete(controllers.StopQuietly(r))
}
