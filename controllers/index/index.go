// Package index registers the cache indexes that the controllers and intake
// share, so an event or a status count costs a map lookup, not a List call
// against the API server. Register them once per manager with Setup.
package index

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

const (
	// RunByWorkflow indexes WorkflowRuns by spec.workflowName (use with client.InNamespace).
	RunByWorkflow = "spec.workflowName"
	// RunBySubject indexes WorkflowRuns by spec.subject (use with client.InNamespace).
	RunBySubject = "spec.subject"
	// RunByWorkflowSubject indexes WorkflowRuns by "<workflowName>/<subject>".
	RunByWorkflowSubject = "spec.workflowName+subject"
)

// WorkflowSubjectKey is the RunByWorkflowSubject value of a workflow and subject.
func WorkflowSubjectKey(workflow, subject string) string {
	return workflow + "/" + subject
}

// Setup registers every crmflow index with the manager's field indexer.
func Setup(ctx context.Context, indexer client.FieldIndexer) error {
	indexes := map[string]client.IndexerFunc{
		RunByWorkflow: func(o client.Object) []string {
			return []string{o.(*v1alpha1.WorkflowRun).Spec.WorkflowName}
		},
		RunBySubject: func(o client.Object) []string {
			if s := o.(*v1alpha1.WorkflowRun).Spec.Subject; s != "" {
				return []string{s}
			}
			return nil
		},
		RunByWorkflowSubject: func(o client.Object) []string {
			r := o.(*v1alpha1.WorkflowRun)
			return []string{WorkflowSubjectKey(r.Spec.WorkflowName, r.Spec.Subject)}
		},
	}
	for field, fn := range indexes {
		if err := indexer.IndexField(ctx, &v1alpha1.WorkflowRun{}, field, fn); err != nil {
			return fmt.Errorf("index WorkflowRuns by %s: %w", field, err)
		}
	}
	return nil
}
