package controllers

import (
	"context"
	"fmt"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// defaultHistoryLimit is the API's default for history.limit.
const defaultHistoryLimit = 50

// pruneHistory deletes the finished runs of wf beyond its history limit,
// oldest first, and returns the names it deleted.
func (r *WorkflowReconciler) pruneHistory(ctx context.Context, wf *v1alpha1.Workflow, runs []v1alpha1.WorkflowRun) (map[string]bool, error) {
	limit := defaultHistoryLimit
	if wf.Spec.History.Limit != nil {
		limit = int(*wf.Spec.History.Limit)
	}
	excess := beyondHistoryLimit(runs, limit)
	deleted := make(map[string]bool, len(excess))
	for _, run := range excess {
		uid := run.UID
		err := r.Delete(ctx, run, client.Preconditions{UID: &uid}, client.PropagationPolicy("Background"))
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("delete run %s beyond the history limit of %d: %w", klog.KObj(run), limit, err)
		}
		deleted[run.Name] = true
	}
	return deleted, nil
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
