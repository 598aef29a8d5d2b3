package intake

import (
	"context"
	"fmt"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// The enrolment slot.
//
// Receivers run on every replica, so no in-memory lock can make "at most one
// active run per subject" true. Instead each (workflow, subject) has a
// coordination.k8s.io Lease with a deterministic name whose holderIdentity
// names the subject's latest run. Taking the slot is a Create of the Lease
// (AlreadyExists settles a race) or an Update with the resourceVersion that
// was read (Conflict settles a race); the API server arbitrates, never the
// cache. The run's own name still derives from the event, so duplicates hit
// AlreadyExists on the run as well.
//
// Order: slot first, then the run. A receiver that took the slot but failed
// to create the run answered 503; the sender's retry computes the same run
// name, finds itself the holder and creates it. If the sender never retries,
// a holder that does not exist is taken as an enrolment in flight for
// slotGrace (longer than any request may take) and as free afterwards.

// annotationReplaces names the run a Replace enrolment cancels, so a retry
// of that enrolment still cancels it.
const annotationReplaces = "crmflow.io/replaces"

// holderState is what became of a slot's holder run.
type holderState int

const (
	holderActive   holderState = iota // not finished (or being created, within the grace)
	holderFinished                    // Succeeded, Failed or Cancelled
	holderGone                        // deleted, or never created and past the grace
)

const slotAttempts = 5

// enrolInSlot enrols run under policy p, arbitrated by the subject's slot.
func (r *Receiver) enrolInSlot(ctx context.Context, wf *v1alpha1.Workflow, run *v1alpha1.WorkflowRun, p policy) (verdict, error) {
	for range slotAttempts {
		lease, created, err := r.takeOrReadSlot(ctx, wf, run)
		if err != nil {
			return verdict{}, err
		}
		if created {
			return r.createRun(ctx, run)
		}
		holder := ptr.Deref(lease.Spec.HolderIdentity, "")
		if holder == run.Name { // a retry (or duplicate) of the enrolment that holds the slot
			v, err := r.createRun(ctx, run)
			if err == nil {
				err = r.cancelRun(ctx, run.Namespace, lease.Annotations[annotationReplaces])
			}
			return v, err
		}
		state, err := r.holderState(ctx, run.Namespace, holder, lease)
		if err != nil {
			return verdict{}, err
		}
		replaces := ""
		switch {
		case p.reenroll == v1alpha1.ReenrollNever && state != holderGone:
			return verdict{skip: v1alpha1.SkipAlreadyEnrolled, message: fmt.Sprintf(
				"subject %q was enrolled before (run %s) and reenroll is Never", run.Spec.Subject, holder)}, nil
		case state == holderActive && p.concurrency == v1alpha1.ConcurrencyReplace:
			replaces = holder
		case state == holderActive && p.reenroll == v1alpha1.ReenrollAfterExit && p.concurrency == v1alpha1.ConcurrencyAllow:
			return verdict{skip: v1alpha1.SkipAlreadyEnrolled, message: fmt.Sprintf(
				"subject %q is enrolled in run %s and reenroll is AfterExit", run.Spec.Subject, holder)}, nil
		case state == holderActive && p.concurrency == v1alpha1.ConcurrencyAllow:
			// Always/Allow (date triggers only come here): the new run takes the slot beside the active one.
		case state == holderActive:
			return verdict{skip: v1alpha1.SkipActiveRun, message: fmt.Sprintf(
				"subject %q has active run %s and concurrency is Forbid", run.Spec.Subject, holder)}, nil
		}
		took, err := r.takeOverSlot(ctx, lease, run.Name, replaces)
		if err != nil {
			return verdict{}, err
		}
		if !took {
			continue // another enrolment moved the slot: decide again
		}
		v, err := r.createRun(ctx, run)
		if err != nil {
			return v, err
		}
		if replaces != "" {
			if err := r.cancelRun(ctx, run.Namespace, replaces); err != nil {
				return v, err
			}
			// Under Replace a later enrolment may have taken the slot while this
			// one created its run without seeing it; the loser cancels itself.
			if err := r.yieldIfReplaced(ctx, lease, run); err != nil {
				return v, err
			}
		}
		return v, nil
	}
	return verdict{}, fmt.Errorf("enrolment slot of subject %q kept changing; gave up after %d attempts", run.Spec.Subject, slotAttempts)
}

// takeOrReadSlot creates the slot held by run, or reads the existing one live.
func (r *Receiver) takeOrReadSlot(ctx context.Context, wf *v1alpha1.Workflow, run *v1alpha1.WorkflowRun) (*coordinationv1.Lease, bool, error) {
	now := metav1.NewMicroTime(r.opts.Clock.Now())
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{
			Name:      slotName(wf.Name, run.Spec.Subject),
			Namespace: wf.Namespace,
			Labels: map[string]string{
				v1alpha1.LabelWorkflow:    run.Labels[v1alpha1.LabelWorkflow],
				v1alpha1.LabelSubjectHash: run.Labels[v1alpha1.LabelSubjectHash],
			},
		},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(run.Name), AcquireTime: &now, RenewTime: &now},
	}
	if err := controllerutil.SetOwnerReference(wf, lease, r.client.Scheme()); err != nil {
		return nil, false, fmt.Errorf("own slot by workflow: %w", err)
	}
	err := r.client.Create(ctx, lease)
	if err == nil {
		return lease, true, nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return nil, false, fmt.Errorf("create enrolment slot %s: %w", lease.Name, err)
	}
	existing := &coordinationv1.Lease{}
	if err := r.live.Get(ctx, client.ObjectKeyFromObject(lease), existing); err != nil {
		return nil, false, fmt.Errorf("read enrolment slot %s: %w", lease.Name, err)
	}
	return existing, false, nil
}

// takeOverSlot points the slot at run with the resourceVersion read; false
// when someone else changed it first.
func (r *Receiver) takeOverSlot(ctx context.Context, lease *coordinationv1.Lease, run, replaces string) (bool, error) {
	now := metav1.NewMicroTime(r.opts.Clock.Now())
	next := lease.DeepCopy()
	next.Spec.HolderIdentity = ptr.To(run)
	next.Spec.AcquireTime, next.Spec.RenewTime = &now, &now
	next.Spec.LeaseTransitions = ptr.To(ptr.Deref(lease.Spec.LeaseTransitions, 0) + 1)
	if next.Annotations == nil {
		next.Annotations = map[string]string{}
	}
	if replaces != "" {
		next.Annotations[annotationReplaces] = replaces
	} else {
		delete(next.Annotations, annotationReplaces)
	}
	err := r.client.Update(ctx, next) // carries lease.ResourceVersion: optimistic
	switch {
	case apierrors.IsConflict(err) || apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("take enrolment slot %s: %w", lease.Name, err)
	}
	*lease = *next
	return true, nil
}

// holderState reads the holder run: from the cache when it is there (a
// finished phase never changes back), else live.
func (r *Receiver) holderState(ctx context.Context, ns, holder string, lease *coordinationv1.Lease) (holderState, error) {
	if holder == "" {
		return holderGone, nil
	}
	key := types.NamespacedName{Namespace: ns, Name: holder}
	run := &v1alpha1.WorkflowRun{}
	err := r.client.Get(ctx, key, run)
	if apierrors.IsNotFound(err) {
		err = r.live.Get(ctx, key, run)
	}
	switch {
	case apierrors.IsNotFound(err):
		if lease.Spec.RenewTime != nil && r.opts.Clock.Since(lease.Spec.RenewTime.Time) < r.opts.slotGrace() {
			return holderActive, nil // being created by another receiver right now
		}
		return holderGone, nil
	case err != nil:
		return 0, fmt.Errorf("read slot holder %s: %w", holder, err)
	case run.Status.Phase.IsFinished():
		return holderFinished, nil
	}
	return holderActive, nil
}

// cancelRun asks the run controller to cancel a run (spec.cancel); a missing
// or already-cancelled run is fine.
func (r *Receiver) cancelRun(ctx context.Context, ns, name string) error {
	if name == "" {
		return nil
	}
	run := &v1alpha1.WorkflowRun{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"cancel":true}}`))
	if err := r.client.Patch(ctx, run, patch); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("cancel replaced run %s: %w", name, err)
	}
	log.FromContext(ctx).V(1).Info("replaced run", "run", name)
	return nil
}

// yieldIfReplaced cancels run when the slot no longer names it.
func (r *Receiver) yieldIfReplaced(ctx context.Context, lease *coordinationv1.Lease, run *v1alpha1.WorkflowRun) error {
	current := &coordinationv1.Lease{}
	if err := r.live.Get(ctx, client.ObjectKeyFromObject(lease), current); err != nil {
		return fmt.Errorf("re-read enrolment slot %s: %w", lease.Name, err)
	}
	if ptr.Deref(current.Spec.HolderIdentity, "") != run.Name {
		return r.cancelRun(ctx, run.Namespace, run.Name)
	}
	return nil
}

// releaseSlot deletes the slot if it still names run (used when a pending
// date run is dropped, so the next date enrols at once).
func (r *Receiver) releaseSlot(ctx context.Context, wf *v1alpha1.Workflow, subject, run string) error {
	key := types.NamespacedName{Namespace: wf.Namespace, Name: slotName(wf.Name, subject)}
	lease := &coordinationv1.Lease{}
	if err := r.live.Get(ctx, key, lease); err != nil {
		return client.IgnoreNotFound(err)
	}
	if ptr.Deref(lease.Spec.HolderIdentity, "") != run {
		return nil
	}
	err := r.client.Delete(ctx, lease, client.Preconditions{ResourceVersion: &lease.ResourceVersion, UID: &lease.UID})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("release enrolment slot %s: %w", lease.Name, err)
	}
	return nil
}
