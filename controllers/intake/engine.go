package intake

import (
	"time"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/runner"
)

// program is what intake asks of a compiled workflow; *runner.Program
// provides it. The receiver holds one per indexed Workflow.
type program interface {
	Triggers(ev *v1alpha1.CloudEvent) bool
	Subject(ev *v1alpha1.CloudEvent, now time.Time) (string, error)
	Evaluate(ev *v1alpha1.CloudEvent, now time.Time) (runner.Enrollment, error)
	StartAt(ev *v1alpha1.CloudEvent, now time.Time) (time.Time, bool, error)
}

// compileFunc compiles a workflow spec; the engine caches by spec content.
type compileFunc func(spec *v1alpha1.WorkflowSpec) (program, error)

// engineCompiler adapts runner.Engine.Compile to compileFunc.
func engineCompiler(e *runner.Engine) compileFunc {
	return func(spec *v1alpha1.WorkflowSpec) (program, error) {
		p, err := e.Compile(spec)
		if err != nil {
			return nil, err
		}
		return p, nil
	}
}
