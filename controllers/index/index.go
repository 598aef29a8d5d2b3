// Package index registers the cache indexes that the controllers and intake
// share, so an event or a transition costs a map lookup, not a List call
// against the API server. The indexes hold only what their callers use:
// unfinished runs for correlation, enrollment and revision GC, finished ones
// for history pruning. Register them once per manager with Setup.
package index

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

const (
	// ActiveRunByWorkflow indexes unfinished WorkflowRuns by spec.workflowName (use with client.InNamespace).
	ActiveRunByWorkflow = "active.spec.workflowName"
	// ActiveRunBySubject indexes unfinished WorkflowRuns by spec.subject (use with client.InNamespace).
	ActiveRunBySubject = "active.spec.subject"
	// RunByWorkflowSubject indexes WorkflowRuns by "<workflowName>/<subject>",
	// finished ones included: enrollment policies (reenroll: Never) read both.
	RunByWorkflowSubject = "spec.workflowName+subject"
	// ActiveRunByRevision indexes unfinished WorkflowRuns by the
	// ControllerRevision they execute, so revisions in use are kept.
	ActiveRunByRevision = "active.spec.workflowRevision"
	// FinishedRunByWorkflow indexes finished WorkflowRuns by spec.workflowName, for history pruning.
	FinishedRunByWorkflow = "finished.spec.workflowName"
)

// WorkflowSubjectKey is the RunByWorkflowSubject value of a workflow and subject.
func WorkflowSubjectKey(workflow, subject string) string {
	return workflow + "/" + subject
}

// Active reports whether a run is unfinished and not being deleted.
func Active(r *v1alpha1.WorkflowRun) bool {
	return !r.Status.Phase.IsFinished() && r.DeletionTimestamp.IsZero()
}

// Revision is the ControllerRevision a run executes, "" for an inline spec.
func Revision(r *v1alpha1.WorkflowRun) string {
	if r.Spec.WorkflowRevision != "" {
		return r.Spec.WorkflowRevision
	}
	return r.Status.WorkflowRevision
}

// Setup registers every crmflow index with the manager's field indexer.
func Setup(ctx context.Context, indexer client.FieldIndexer) error {
	only := func(keep func(*v1alpha1.WorkflowRun) bool, value func(*v1alpha1.WorkflowRun) string) client.IndexerFunc {
		return func(o client.Object) []string {
			r := o.(*v1alpha1.WorkflowRun)
			if !keep(r) {
				return nil
			}
			if v := value(r); v != "" {
				return []string{v}
			}
			return nil
		}
	}
	all := func(*v1alpha1.WorkflowRun) bool { return true }
	finished := func(r *v1alpha1.WorkflowRun) bool { return r.Status.Phase.IsFinished() }
	indexes := map[string]client.IndexerFunc{
		ActiveRunByWorkflow: only(Active, func(r *v1alpha1.WorkflowRun) string { return r.Spec.WorkflowName }),
		ActiveRunBySubject:  only(Active, func(r *v1alpha1.WorkflowRun) string { return r.Spec.Subject }),
		RunByWorkflowSubject: only(all, func(r *v1alpha1.WorkflowRun) string {
			return WorkflowSubjectKey(r.Spec.WorkflowName, r.Spec.Subject)
		}),
		ActiveRunByRevision:   only(Active, Revision),
		FinishedRunByWorkflow: only(finished, func(r *v1alpha1.WorkflowRun) string { return r.Spec.WorkflowName }),
	}
	for field, fn := range indexes {
		if err := indexer.IndexField(ctx, &v1alpha1.WorkflowRun{}, field, fn); err != nil {
			return fmt.Errorf("index WorkflowRuns by %s: %w", field, err)
		}
	}
	return nil
}
