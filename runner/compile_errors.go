package runner

import (
	"errors"
	"fmt"
	"strings"

	"github.com/crmflow/crmflow/runner/expr"
	"github.com/crmflow/crmflow/runner/template"
)

// Problem is one reason a spec does not compile.
type Problem struct {
	// Field is the exact path, e.g. "spec.steps[2].sendEmail.subject".
	Field string
	// Message says what is wrong; CEL problems start with line:col.
	Message string
}

// CompileError lists every problem of a spec; the admission webhook and the
// Workflow's Ready condition show it.
type CompileError struct {
	Problems []Problem
}

// Error joins the problems as "field: message" lines.
func (e *CompileError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.Field + ": " + p.Message
	}
	return strings.Join(lines, "\n")
}

// problems collects Problems while a spec compiles.
type problems struct {
	list []Problem
}

func (p *problems) add(field, format string, args ...any) {
	p.list = append(p.list, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
}

// addErr records err at field, splitting CEL and template errors so each
// position gets its own line.
func (p *problems) addErr(field string, err error) {
	var ces expr.CompileErrors
	var tes template.Errors
	switch {
	case errors.As(err, &ces):
		for _, ce := range ces {
			p.add(field, "%d:%d: %s", ce.Pos.Line, ce.Pos.Column, ce.Message)
		}
	case errors.As(err, &tes):
		for _, te := range tes {
			p.add(field, "%d:%d: %s", te.Line, te.Column, te.Message)
		}
	default:
		p.add(field, "%v", err)
	}
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	return &CompileError{Problems: p.list}
}
