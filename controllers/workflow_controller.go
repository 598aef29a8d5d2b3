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
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/controllers/index"
)

// CompileFunc checks a workflow spec; its error (a *runner.CompileError for
// an invalid spec) becomes the Ready condition's message verbatim.
type CompileFunc func(spec *v1alpha1.WorkflowSpec) error

// WorkflowReconciler keeps a Workflow's status: Ready (the spec compiled),
// run counts from the cache, the schedule's ticks; it creates the runs of a
// schedule trigger and deletes finished runs beyond the history limit.
//
// It shares the status with intake, which owns skippedEvents (except the
// schedule's reasons) and lastTriggeredTime, so it writes with a merge patch
// carrying only the fields it changed and the resourceVersion it read.
type WorkflowReconciler struct {
	client.Client
	// Clock is the only source of "now".
	Clock clock.PassiveClock
	// Compile checks a spec; main wraps runner.Engine.Compile.
	Compile CompileFunc
	// Recorder emits Kubernetes Events for compile failures and schedule ticks.
	Recorder events.EventRecorder
	// Metrics counts scheduled runs; nil records nothing.
	Metrics *Metrics
	// MaxRequeueAfter caps the wait for the next cron tick; 0 means no cap
	// (see WorkflowRunReconciler.MaxRequeueAfter for why suites set it).
	MaxRequeueAfter time.Duration
}

// +kubebuilder:rbac:groups=crmflow.io,resources=workflows,verbs=get;list;watch
// +kubebuilder:rbac:groups=crmflow.io,resources=workflows/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=crmflow.io,resources=workflowruns,verbs=get;list;watch;create;patch;delete

// Reconcile compiles the workflow, counts its runs, prunes its history, acts
// on due cron ticks, and writes what changed in one status patch.
func (r *WorkflowReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	wf := &v1alpha1.Workflow{}
	if err := r.Get(ctx, req.NamespacedName, wf); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !wf.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	base := wf.DeepCopy()
	now := r.Clock.Now()

	compileErr := r.compile(wf)
	setReadyCondition(wf, compileErr)
	if compileErr != nil && (isReady(base) || readyMessage(base) != compileErr.Error()) {
		r.event(wf, true, v1alpha1.ReasonCompileFailed, compileErr.Error())
	}

	runs := &v1alpha1.WorkflowRunList{}
	if err := r.List(ctx, runs, client.InNamespace(wf.Namespace), client.MatchingFields{index.RunByWorkflow: wf.Name}); err != nil {
		return ctrl.Result{}, fmt.Errorf("list runs of workflow %s: %w", klog.KObj(wf), err)
	}
	pruned, err := r.pruneHistory(ctx, wf, runs.Items)
	if err != nil {
		return ctrl.Result{}, err
	}
	wf.Status.Runs = countRuns(runs.Items, pruned)

	var result ctrl.Result
	if wf.Spec.Trigger.Schedule != nil && compileErr == nil {
		if result, err = r.reconcileSchedule(ctx, wf, runs.Items, now); err != nil {
			return ctrl.Result{}, err
		}
	} else {
		wf.Status.NextScheduleTime = nil
	}
	wf.Status.ObservedGeneration = wf.Generation

	if err := r.patchStatus(ctx, base, wf); apierrors.IsConflict(err) {
		// Intake (or our own previous pass, not yet in the cache) wrote
		// first; recompute from a fresh read. Runs created above are named
		// after their tick, so the retry re-creates nothing.
		ctrl.LoggerFrom(ctx).V(1).Info("workflow changed while reconciling; retrying")
		return ctrl.Result{RequeueAfter: conflictRetry}, nil
	} else if err != nil {
		return ctrl.Result{}, err
	}
	return result, nil
}

// compile checks the spec with the engine and, for a schedule trigger, the
// cron expression and time zone, so Ready tells every spec problem.
func (r *WorkflowReconciler) compile(wf *v1alpha1.Workflow) error {
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
func (r *WorkflowReconciler) patchStatus(ctx context.Context, base, wf *v1alpha1.Workflow) error {
	if equality.Semantic.DeepEqual(base.Status, wf.Status) {
		return nil
	}
	if err := r.Status().Patch(ctx, wf, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("patch status of workflow %s: %w", klog.KObj(wf), err)
	}
	return nil
}

func (r *WorkflowReconciler) event(wf *v1alpha1.Workflow, warning bool, reason, message string) {
	if r.Recorder == nil {
		return
	}
	kind := "Normal"
	if warning {
		kind = "Warning"
	}
	r.Recorder.Eventf(wf, nil, kind, reason, "Reconcile", "%s", message)
}

// SetupWithManager watches Workflows and their runs: a run created, deleted
// or changing phase re-counts its workflow.
func (r *WorkflowReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.Workflow{}).
		Watches(&v1alpha1.WorkflowRun{},
			handler.EnqueueRequestsFromMapFunc(workflowOfRun),
			builder.WithPredicates(runPhaseChanged())).
		Named("workflow").
		Complete(r)
}

// workflowOfRun maps a run to its workflow by spec.workflowName (also for
// hand-made runs without an owner reference).
func workflowOfRun(_ context.Context, o client.Object) []reconcile.Request {
	run, ok := o.(*v1alpha1.WorkflowRun)
	if !ok {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: run.Namespace, Name: run.Spec.WorkflowName}}}
}

// runPhaseChanged passes run creations, deletions and phase changes: the
// only run events that change a workflow's counts or history.
func runPhaseChanged() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, ok1 := e.ObjectOld.(*v1alpha1.WorkflowRun)
			n, ok2 := e.ObjectNew.(*v1alpha1.WorkflowRun)
			return ok1 && ok2 && o.Status.Phase != n.Status.Phase
		},
	}
}
