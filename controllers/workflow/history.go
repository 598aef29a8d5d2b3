package workflow

import (
	"context"
	"fmt"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/controllers/index"
	"github.com/crmflow/crmflow/controllers/revision"
)

// revisionHistoryLimit is how many unused revisions are kept for rollback
// and for reading old runs, beside the current one and those in use.
const revisionHistoryLimit = 10

// pruneHistory deletes the finished runs of wf beyond its history limit,
// oldest first, when no archiver removes them. It reads the cache index of
// finished runs, which holds at most the limit plus what finished since the
// last pass.
func (r *Reconciler) pruneHistory(ctx context.Context, wf *v1alpha1.Workflow) error {
	if r.FinishedRunsArchived {
		return nil
	}
	limit := int(*wf.Spec.History.Defaulted().Limit)
	var runs v1alpha1.WorkflowRunList
	if err := r.List(ctx, &runs, client.InNamespace(wf.Namespace), client.MatchingFields{index.FinishedRunByWorkflow: wf.Name}, client.UnsafeDisableDeepCopy); err != nil {
		return fmt.Errorf("list finished runs of workflow %s: %w", klog.KObj(wf), err)
	}
	for _, run := range beyondHistoryLimit(runs.Items, limit) {
		uid := run.UID
		err := r.Delete(ctx, run, client.Preconditions{UID: &uid}, client.PropagationPolicy("Background"))
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete run %s beyond the history limit of %d: %w", klog.KObj(run), limit, err)
		}
	}
	return nil
}

// beyondHistoryLimit returns the finished runs past the newest limit ones,
// newest by completion time (then creation time, then name).
func beyondHistoryLimit(runs []v1alpha1.WorkflowRun, limit int) []*v1alpha1.WorkflowRun {
	var finished []*v1alpha1.WorkflowRun
	for i := range runs {
		if runs[i].Status.Phase.IsFinished() && runs[i].DeletionTimestamp.IsZero() {
			finished = append(finished, &runs[i])
		}
	}
	if len(finished) <= limit {
		return nil
	}
	sort.Slice(finished, func(i, j int) bool {
		a, b := finished[i], finished[j]
		ta, tb := a.CreationTimestamp.Time, b.CreationTimestamp.Time
		if a.Status.CompletionTime != nil {
			ta = a.Status.CompletionTime.Time
		}
		if b.Status.CompletionTime != nil {
			tb = b.Status.CompletionTime.Time
		}
		if !ta.Equal(tb) {
			return ta.After(tb)
		}
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.After(b.CreationTimestamp.Time)
		}
		return a.Name > b.Name
	})
	return finished[limit:]
}

// pruneRevisions deletes revisions of wf that are neither current, nor
// executed by an unfinished run, nor among the newest revisionHistoryLimit.
func (r *Reconciler) pruneRevisions(ctx context.Context, wf *v1alpha1.Workflow) error {
	var revs appsv1.ControllerRevisionList
	if err := r.List(ctx, &revs, client.InNamespace(wf.Namespace),
		client.MatchingLabels{revision.LabelRevisionOf: v1alpha1.WorkflowLabelValue(wf.Name)}); err != nil {
		return fmt.Errorf("list revisions of workflow %s: %w", klog.KObj(wf), err)
	}
	var unused []*appsv1.ControllerRevision
	for i := range revs.Items {
		rev := &revs.Items[i]
		if !metav1.IsControlledBy(rev, wf) || rev.Name == wf.Status.CurrentRevision {
			continue
		}
		var users v1alpha1.WorkflowRunList
		if err := r.List(ctx, &users, client.InNamespace(wf.Namespace), client.MatchingFields{index.ActiveRunByRevision: rev.Name}, client.UnsafeDisableDeepCopy); err != nil {
			return fmt.Errorf("list runs of revision %s: %w", rev.Name, err)
		}
		if len(users.Items) == 0 {
			unused = append(unused, rev)
		}
	}
	if len(unused) <= revisionHistoryLimit {
		return nil
	}
	sort.Slice(unused, func(i, j int) bool { return unused[i].Revision > unused[j].Revision })
	for _, rev := range unused[revisionHistoryLimit:] {
		uid := rev.UID
		if err := r.Delete(ctx, rev, client.Preconditions{UID: &uid}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete unused revision %s: %w", klog.KObj(rev), err)
		}
	}
	return nil
}
