package workflowrun

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// workflowOwner is the Workflow a run belongs to, as one pass sees it.
type workflowOwner struct {
	// wf is the run's Workflow; nil when there is none of its name.
	wf *v1alpha1.Workflow
	// orphaned says why the run no longer belongs to a live Workflow; empty
	// when it does, or when it names no Workflow as its owner (a test run).
	orphaned string
}

// ownerOf reads the run's Workflow. A run whose controller owner is a
// Workflow that is gone, or that was deleted and created again under the
// same name (another UID), is orphaned: the garbage collector deletes such
// runs on a cluster, but until it does (and where none runs) the run must
// not act for a workflow that no longer exists, nor in the new one's name.
// The cache answers first; an owner the cache does not show is confirmed by
// a live read, since the cache may lag behind a Workflow just created.
func (r *Reconciler) ownerOf(ctx context.Context, run *v1alpha1.WorkflowRun) (workflowOwner, error) {
	key := client.ObjectKey{Namespace: run.Namespace, Name: run.Spec.WorkflowName}
	wf := &v1alpha1.Workflow{}
	err := r.Get(ctx, key, wf)
	if err != nil && !apierrors.IsNotFound(err) {
		return workflowOwner{}, fmt.Errorf("get workflow of run %s: %w", klog.KObj(run), err)
	}
	if err != nil {
		wf = nil
	}
	owner := metav1.GetControllerOf(run)
	if owner == nil || owner.Kind != "Workflow" || (wf != nil && wf.UID == owner.UID) {
		return workflowOwner{wf: wf}, nil
	}
	if r.APIReader != nil {
		live := &v1alpha1.Workflow{}
		err := r.APIReader.Get(ctx, key, live)
		switch {
		case apierrors.IsNotFound(err):
			wf = nil
		case err != nil:
			return workflowOwner{}, fmt.Errorf("read workflow of run %s: %w", klog.KObj(run), err)
		default:
			wf = live
		}
	}
	switch {
	case wf == nil:
		return workflowOwner{orphaned: fmt.Sprintf("workflow %s was deleted; the run acts no more", run.Spec.WorkflowName)}, nil
	case wf.UID != owner.UID:
		return workflowOwner{wf: wf, orphaned: fmt.Sprintf(
			"workflow %s was deleted and created again (uid %s, this run's was %s); the run belonged to the old one and acts no more",
			run.Spec.WorkflowName, wf.UID, owner.UID)}, nil
	}
	return workflowOwner{wf: wf}, nil
}

// sameOwner reports whether o belongs to the same Workflow as run (the
// same controller owner UID). Runs that name no controller owner are taken
// as belonging.
func sameOwner(run, o *v1alpha1.WorkflowRun) bool {
	a, b := metav1.GetControllerOf(run), metav1.GetControllerOf(o)
	return a == nil || b == nil || a.UID == b.UID
}
