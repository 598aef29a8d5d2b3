// Package expr is crmflow's expression language: a CEL environment with the
// variables of a run (event, data, contact, lead, ticket, conversation,
// message, appointment, subject, steps, run, workflow, now), time-zone and
// business-hours helpers, structured conditions translated into CEL, and a
// runtime cost limit. docs/expressions.md documents it for users.
package expr

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/ext"
)

// DefaultCostLimit bounds the CEL cost of one evaluation when the engine sets none.
const DefaultCostLimit uint64 = 1_000_000

// Variable names of the environment.
const (
	VarEvent        = "event"
	VarData         = "data"
	VarContact      = "contact"
	VarLead         = "lead"
	VarTicket       = "ticket"
	VarConversation = "conversation"
	VarMessage      = "message"
	VarAppointment  = "appointment"
	VarSubject      = "subject"
	VarSteps        = "steps"
	VarRun          = "run"
	VarWorkflow     = "workflow"
	VarNow          = "now"
)

// EntityNames are the top-level keys of an event's data that become
// variables of their own; a missing key is an empty map, so has() works.
var EntityNames = []string{VarContact, VarLead, VarTicket, VarConversation, VarMessage, VarAppointment}

// Env is a compiled CEL environment; it is safe for concurrent use.
type Env struct {
	env       *cel.Env
	costLimit uint64
}

// NewEnv builds the environment. costLimit 0 means DefaultCostLimit.
func NewEnv(costLimit uint64) (*Env, error) {
	if costLimit == 0 {
		costLimit = DefaultCostLimit
	}
	mapType := cel.MapType(cel.StringType, cel.DynType)
	opts := []cel.EnvOption{
		cel.Variable(VarEvent, mapType),
		cel.Variable(VarData, cel.DynType),
		cel.Variable(VarSubject, cel.StringType),
		cel.Variable(VarSteps, cel.MapType(cel.StringType, mapType)),
		cel.Variable(VarRun, mapType),
		cel.Variable(VarWorkflow, mapType),
		cel.Variable(VarNow, cel.TimestampType),
		cel.CrossTypeNumericComparisons(true),
		cel.OptionalTypes(),
		cel.DefaultUTCTimeZone(true),
		cel.ParserRecursionLimit(64),
		cel.ParserExpressionSizeLimit(8192),
		ext.Strings(),
		ext.Encoders(),
	}
	for _, n := range EntityNames {
		opts = append(opts, cel.Variable(n, mapType))
	}
	opts = append(opts, timeFunctions()...)
	opts = append(opts, fallbackFunction())
	env, err := cel.NewEnv(opts...)
	if err != nil {
		return nil, fmt.Errorf("build CEL environment: %w", err)
	}
	return &Env{env: env, costLimit: costLimit}, nil
}

// Output is the type an expression must yield.
type Output int

// Output kinds.
const (
	// AnyOutput accepts any type (templates, subject).
	AnyOutput Output = iota
	// BoolOutput needs bool (conditions, guards, filters).
	BoolOutput
	// TimestampOutput needs a timestamp or a string in RFC 3339 (wait.until).
	TimestampOutput
)

// Position is a 1-based line and column within an expression's source.
type Position struct {
	Line, Column int
}

// SyntaxError is one compile problem of an expression, with its position.
type SyntaxError struct {
	Pos     Position
	Message string
}

// CompileErrors lists the problems of one expression.
type CompileErrors []SyntaxError

// Error joins the problems as "line:col: message".
func (c CompileErrors) Error() string {
	parts := make([]string, 0, len(c))
	for _, e := range c {
		parts = append(parts, fmt.Sprintf("%d:%d: %s", e.Pos.Line, e.Pos.Column, e.Message))
	}
	return strings.Join(parts, "; ")
}

// Program is one compiled, type-checked expression.
type Program struct {
	// Source is the expression text.
	Source string
	prg    cel.Program
	output Output
	// Bool expressions keep their checked AST to build, on first use, the
	// programs that read the fields whose values explain a result.
	env         *Env
	ast         *cel.Ast
	explainOnce sync.Once
	explain     *explainer
	// overload explains a "no such overload" failure, built on first use.
	overloadOnce sync.Once
	overload     *overloadExplainer
}

// Compile parses and type-checks src for the given output type. The error is
// CompileErrors with CEL positions.
func (e *Env) Compile(src string, out Output) (*Program, error) {
	ast, iss := e.env.Compile(src)
	if iss != nil && iss.Err() != nil {
		return nil, toCompileErrors(iss.Errors())
	}
	t := ast.OutputType()
	switch out {
	case BoolOutput:
		if !t.IsExactType(types.BoolType) && !t.IsExactType(types.DynType) {
			return nil, CompileErrors{{Pos: Position{1, 1}, Message: fmt.Sprintf("expression must yield a bool, not %s", t)}}
		}
	case TimestampOutput:
		if !t.IsExactType(types.TimestampType) && !t.IsExactType(types.StringType) && !t.IsExactType(types.DynType) {
			return nil, CompileErrors{{Pos: Position{1, 1}, Message: fmt.Sprintf("expression must yield a timestamp, not %s", t)}}
		}
	}
	prg, err := e.env.Program(ast, cel.CostLimit(e.costLimit), cel.InterruptCheckFrequency(100))
	if err != nil {
		return nil, CompileErrors{{Pos: Position{1, 1}, Message: err.Error()}}
	}
	p := &Program{Source: src, prg: prg, output: out}
	if out == BoolOutput {
		p.env, p.ast = e, ast
	}
	return p, nil
}

func toCompileErrors(errs []*cel.Error) CompileErrors {
	out := make(CompileErrors, 0, len(errs))
	for _, e := range errs {
		pos := Position{Line: 1, Column: 1}
		if e.Location != nil && e.Location.Line() > 0 {
			pos = Position{Line: e.Location.Line(), Column: e.Location.Column() + 1}
		}
		out = append(out, SyntaxError{Pos: pos, Message: e.Message})
	}
	return out
}

// ErrMissing marks an evaluation that failed because a field or key does not
// exist: conditions and guards treat it as false.
var ErrMissing = errors.New("missing field")

// EvalError is a failed evaluation; it names the expression.
type EvalError struct {
	Source string
	Err    error
}

// Error names the expression and the failure.
func (e *EvalError) Error() string {
	return fmt.Sprintf("evaluate %q: %v", e.Source, e.Err)
}

// Unwrap returns the CEL failure.
func (e *EvalError) Unwrap() error { return e.Err }

// Eval evaluates the program against vars (see Vars) and returns the CEL value.
func (p *Program) Eval(vars map[string]any) (ref.Val, error) {
	v, _, err := p.prg.Eval(vars)
	if err == nil && types.IsError(v) {
		err = v.(*types.Err)
	}
	if err != nil {
		return nil, &EvalError{Source: p.Source, Err: p.withOverloadDetail(classify(err), vars)}
	}
	return v, nil
}

// withOverloadDetail adds to CEL's bare "no such overload" which operands had
// which types; any other error is returned as it is.
func (p *Program) withOverloadDetail(err error, vars map[string]any) error {
	if !strings.Contains(err.Error(), "no such overload") {
		return err
	}
	if detail := p.explainOverload(vars); detail != "" {
		return fmt.Errorf("%w: %s", err, detail)
	}
	return err
}

// EvalBool evaluates a bool expression.
func (p *Program) EvalBool(vars map[string]any) (bool, error) {
	v, err := p.Eval(vars)
	if err != nil {
		return false, err
	}
	b, ok := v.(types.Bool)
	if !ok {
		return false, &EvalError{Source: p.Source, Err: fmt.Errorf("yields %s, not bool", v.Type().TypeName())}
	}
	return bool(b), nil
}

// missingError wraps a CEL error that reports a missing key or attribute.
type missingError struct{ err error }

// Error is the CEL message, e.g. "no such key: source".
func (m *missingError) Error() string { return m.err.Error() }

// Unwrap exposes the CEL error and ErrMissing.
func (m *missingError) Unwrap() []error { return []error{m.err, ErrMissing} }

func classify(err error) error {
	msg := err.Error()
	if strings.Contains(msg, "no such key") || strings.Contains(msg, "no such attribute") {
		return &missingError{err: err}
	}
	return err
}
