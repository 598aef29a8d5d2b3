package workflowrun

import (
	"context"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/controllers/enrollment"
	"github.com/crmflow/crmflow/controllers/index"
	"github.com/crmflow/crmflow/runner"
)

// admitResult is what admission decided for a new run.
type admitResult struct {
	// wait: an older run of the subject must be admitted first.
	wait bool
	// skip: the run ends without acting, with this outcome.
	skip *runner.Outcome
}

// admit applies the enrollment policy to a run this controller sees for the
// first time. Intake already skipped what its cache could tell; this is the
// arbitration that makes the policy hold when two receivers (or a receiver
// and a stale cache) created runs for one subject at once. The watch
// delivers runs in the order the API server stored them, so every run
// created before this one is in the cache when this one is.
//
// It costs no write unless it skips (then the skip is the run's one status
// write), replaces (a cancel patch per replaced run), or the workflow
// enrolls a subject only once (one marker Lease per subject, kept for good).
func (r *Reconciler) admit(ctx context.Context, run *v1alpha1.WorkflowRun, spec *v1alpha1.WorkflowSpec, now time.Time) (admitResult, error) {
	if run.Status.Phase != "" || run.Spec.DryRun || run.Spec.Cancel || run.Spec.Workflow != nil {
		return admitResult{}, nil
	}
	if dup, err := r.archivedDuplicate(ctx, run); err != nil || dup != "" {
		if err != nil {
			return admitResult{}, err
		}
		return r.skipRun(run, now, v1alpha1.SkipDuplicate, dup), nil
	}
	policy := spec.Enrollment.Defaulted()
	if policy.Reenroll == v1alpha1.ReenrollAlways && policy.Concurrency == v1alpha1.ConcurrencyAllow {
		return admitResult{}, nil // nothing to arbitrate
	}
	var list v1alpha1.WorkflowRunList
	if err := r.List(ctx, &list, client.InNamespace(run.Namespace),
		client.MatchingFields{index.RunByWorkflowSubject: index.WorkflowSubjectKey(run.Spec.WorkflowName, run.Spec.Subject)}, client.UnsafeDisableDeepCopy); err != nil {
		return admitResult{}, fmt.Errorf("list runs of subject %q: %w", run.Spec.Subject, err)
	}
	// Runs of a deleted Workflow of the same name are not this one's: they
	// end on their next pass (reconcileOwner), or with the garbage collector.
	others := list.Items[:0:0]
	for i := range list.Items {
		if sameOwner(run, &list.Items[i]) {
			others = append(others, list.Items[i])
		}
	}
	a := runner.Admit(policy, enrollment.Candidate(run), enrollment.Candidates(others), run.Spec.Subject)
	switch a.Verdict {
	case runner.Wait:
		return admitResult{wait: true}, nil
	case runner.Skip:
		return r.skipRun(run, now, a.Reason, a.Message), nil
	case runner.Replace:
		for _, name := range a.Replace {
			if err := r.cancelRun(ctx, run.Namespace, name); err != nil {
				return admitResult{}, err
			}
		}
	}
	if policy.Reenroll == v1alpha1.ReenrollNever {
		holder, err := r.enrollOnce(ctx, run)
		if err != nil {
			return admitResult{}, err
		}
		if holder != run.Name {
			return r.skipRun(run, now, v1alpha1.SkipAlreadyEnrolled,
				fmt.Sprintf("subject %q was enrolled before (run %s) and reenroll is Never", run.Spec.Subject, holder)), nil
		}
	}
	return admitResult{}, nil
}

// archivedDuplicate asks the run history store whether the run's event
// already enrolled this workflow in a run that has left etcd.
func (r *Reconciler) archivedDuplicate(ctx context.Context, run *v1alpha1.WorkflowRun) (string, error) {
	ev := run.Spec.Event
	if r.Dedup == nil || ev == nil || ev.ID == "" {
		return "", nil
	}
	seen, err := r.Dedup.HasEvent(ctx, run.Namespace, run.Spec.WorkflowName, ev.Source, ev.ID)
	if err != nil {
		return "", fmt.Errorf("check the run history for event %s/%s: %w", ev.Source, ev.ID, err)
	}
	if !seen {
		return "", nil
	}
	return fmt.Sprintf("event %s from %s already enrolled workflow %s (the run is archived)", ev.ID, ev.Source, run.Spec.WorkflowName), nil
}

// skipRun ends a run that the enrollment policy refused: Cancelled, reason
// NotAdmitted, with the skip reason and why in its message; the skip is
// counted on the Workflow and told in a (rate-limited) Kubernetes Event.
func (r *Reconciler) skipRun(run *v1alpha1.WorkflowRun, now time.Time, reason v1alpha1.SkipReason, msg string) admitResult {
	out := failedOutcome(run, now, v1alpha1.ReasonNotAdmitted, fmt.Sprintf("%s: %s", reason, msg))
	out.Status.Phase = v1alpha1.RunCancelled
	meta.SetStatusCondition(&out.Status.Conditions, metav1.Condition{Type: v1alpha1.RunEnrolledCondition, Status: metav1.ConditionFalse,
		Reason: v1alpha1.ReasonNotAdmitted.String(), Message: msg, ObservedGeneration: run.Generation, LastTransitionTime: metav1.NewTime(ceilSecond(now))})
	out.Transitions = []runner.Transition{{Warning: false, Reason: reason.String(), Message: msg}}
	r.Counters.Skipped(run.Namespace, run.Spec.WorkflowName, reason, msg, now)
	return admitResult{skip: &out}
}

// failedOutcome is a finished status the engine did not compute: the run
// could not start (its revision is gone) or was not admitted.
func failedOutcome(run *v1alpha1.WorkflowRun, now time.Time, reason v1alpha1.ConditionReason, msg string) runner.Outcome {
	return endedOutcome(run, now, v1alpha1.RunFailed, reason, msg)
}

// endedOutcome ends the run in phase for reason, outside the engine. A step
// that had not finished (a wait, a retry pending) is closed as stopped.
func endedOutcome(run *v1alpha1.WorkflowRun, now time.Time, phase v1alpha1.RunPhase, reason v1alpha1.ConditionReason, msg string) runner.Outcome {
	st := run.Status.DeepCopy()
	t := metav1.NewTime(ceilSecond(now))
	for i := range st.Steps {
		if ss := &st.Steps[i]; ss.Name == st.CurrentStep && ss.FinishTime == nil {
			ss.Phase, ss.FinishTime, ss.NextAttemptTime, ss.Message = v1alpha1.StepFailed, &t, nil, "stopped: "+string(reason)
		}
	}
	st.Phase = phase
	st.ObservedGeneration = run.Generation
	if st.StartTime == nil {
		st.StartTime = &t
	}
	st.CompletionTime = &t
	st.CurrentStep, st.WakeAt, st.WaitingFor = "", nil, nil
	st.Result = reason
	st.Message = msg
	if len(st.Message) > 2048 {
		st.Message = st.Message[:2045] + "..."
	}
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: v1alpha1.RunSucceededCondition, Status: metav1.ConditionFalse,
		Reason: reason.String(), Message: st.Message, ObservedGeneration: run.Generation, LastTransitionTime: t})
	return runner.Outcome{Status: *st, Transitions: []runner.Transition{{Warning: true, Reason: reason.String(), Message: st.Message}}}
}

func ceilSecond(t time.Time) time.Time {
	if r := t.Truncate(time.Second); !r.Equal(t) {
		return r.Add(time.Second)
	}
	return t
}

// cancelRun asks a run to stop (spec.cancel); its own pass ends it. A run
// already gone is fine.
func (r *Reconciler) cancelRun(ctx context.Context, namespace, name string) error {
	o := &v1alpha1.WorkflowRun{}
	o.Namespace, o.Name = namespace, name
	patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"cancel":true}}`))
	if err := r.Patch(ctx, o, patch); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("cancel replaced run %s/%s: %w", namespace, name, err)
	}
	ctrl.LoggerFrom(ctx).V(1).Info("replaced run", "replaced", name)
	return nil
}

// enrollOnce records, for a reenroll: Never workflow, that the subject was
// enrolled, in a Lease named after the workflow and subject and owned by
// the Workflow; it returns the run that holds it. The Lease outlives the
// run (that is its purpose), so such a workflow keeps one small object per
// subject ever enrolled; it goes with the Workflow.
func (r *Reconciler) enrollOnce(ctx context.Context, run *v1alpha1.WorkflowRun) (string, error) {
	lease := &coordinationv1.Lease{}
	lease.Namespace = run.Namespace
	lease.Name = EnrolledOnceName(run.Spec.WorkflowName, run.Spec.Subject)
	lease.Labels = map[string]string{
		v1alpha1.LabelWorkflow:    v1alpha1.WorkflowLabelValue(run.Spec.WorkflowName),
		v1alpha1.LabelSubjectHash: v1alpha1.SubjectHash(run.Spec.Subject),
	}
	lease.Spec.HolderIdentity = ptr.To(run.Name)
	if owner := metav1.GetControllerOf(run); owner != nil {
		lease.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	err := r.Create(ctx, lease)
	if err == nil {
		return run.Name, nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("record enrollment of %q in %s: %w", run.Spec.Subject, klog.KObj(run), err)
	}
	existing := &coordinationv1.Lease{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(lease), existing); err != nil {
		return "", fmt.Errorf("read enrollment record %s: %w", lease.Name, err)
	}
	return ptr.Deref(existing.Spec.HolderIdentity, ""), nil
}

// EnrolledOnceName is the name of the Lease that records a subject's
// enrollment in a reenroll: Never workflow.
func EnrolledOnceName(workflow, subject string) string {
	prefix := "crmflow-once-" + workflow
	if len(prefix) > 200 {
		prefix = prefix[:200]
	}
	return prefix + "-" + v1alpha1.SubjectHash(workflow + "\x00" + subject)[:16]
}
