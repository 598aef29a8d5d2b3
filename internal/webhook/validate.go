package webhook

import (
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// Compiler validates a workflow spec; *runner.Engine implements it with the
// one validation the Workflow controller's Ready condition uses too.
type Compiler interface {
	Validate(spec *v1alpha1.WorkflowSpec, path *field.Path) field.ErrorList
}

// ValidateWorkflowSpec returns every problem of spec as field errors whose
// paths start at path; see runner.Engine.Validate.
func ValidateWorkflowSpec(spec *v1alpha1.WorkflowSpec, path *field.Path, c Compiler) field.ErrorList {
	if c == nil {
		return nil
	}
	return c.Validate(spec, path)
}
