package runner

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/runner/expr"
	"github.com/crmflow/crmflow/runner/template"
)

// Program is a compiled workflow spec: every expression and template
// type-checked, durations parsed. It is immutable and safe for concurrent use.
type Program struct {
	spec *v1alpha1.WorkflowSpec
	// weight is what the program costs in the caches: its template
	// expressions plus its steps and conditions.
	weight     int
	conditions []compiledCondition
	subject    *expr.Program
	dateField  *expr.Program
	// dateOffsetDays are the offset's calendar days (d, w), added in
	// dateZone; dateOffset is the rest, elapsed time.
	dateOffsetDays int
	dateOffset     time.Duration
	dateZone       *time.Location
	delay          time.Duration
	exitGoals      []compiledGoal
	steps          []compiledStep
	stepIndex      map[string]int
}

type compiledCondition struct {
	name string
	prg  *expr.Program
	// display is how messages show the condition: its expression, or a
	// structured condition as the user wrote it when its CEL reads badly.
	display string
}

type compiledGoal struct {
	name  string
	types []v1alpha1.EventType
	prg   *expr.Program // nil: any event of the types
}

// compiledStep holds what a step needs at run time.
type compiledStep struct {
	step      *v1alpha1.Step
	kind      string
	guard     *expr.Program
	templates map[string]*template.Template
	branch    *expr.Program
	until     *expr.Program
	filter    *expr.Program
	window    *expr.Window
	duration  time.Duration // wait.duration
	timeout   time.Duration // waitForEvent.timeout
	attemptTO time.Duration // step.timeout
	dueIn     time.Duration // createTask.dueIn
	retry     retryPolicy
}

// Spec returns the compiled spec, defaulted (do not modify it).
func (p *Program) Spec() *v1alpha1.WorkflowSpec { return p.spec }

// Compile compiles and type-checks every expression and template of spec.
// The program holds a copy of spec with the API's defaults applied
// (v1alpha1.WorkflowSpec.Default), so the engine reads every spec the same
// whether or not the webhook defaulted it. Results are cached by the spec's
// content hash. The error is *CompileError when the spec is invalid.
func (e *Engine) Compile(spec *v1alpha1.WorkflowSpec) (*Program, error) {
	if e.envErr != nil {
		return nil, e.envErr
	}
	if spec == nil {
		return nil, &CompileError{Problems: []Problem{{Field: "spec", Message: "is required"}}}
	}
	raw, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("hash workflow spec: %w", err)
	}
	key := sha256.Sum256(raw)
	if p, ok := e.cached(key); ok {
		return p, nil
	}
	// Each expression costs tens of kilobytes compiled: bound the work and
	// the memory one spec may take before compiling anything.
	templates := bytes.Count(raw, []byte("{{"))
	if templates > MaxTemplateExpressions {
		return nil, &CompileError{Problems: []Problem{{Field: "spec", Message: fmt.Sprintf(
			"holds %d {{ }} template expressions; the limit is %d", templates, MaxTemplateExpressions)}}}
	}
	defaulted := spec.DeepCopy()
	defaulted.Default()
	p, err := e.compile(defaulted)
	if err != nil {
		return nil, err
	}
	p.weight = 1 + templates + len(spec.Steps) + len(spec.Conditions)
	e.store(key, p)
	return p, nil
}

// MaxTemplateExpressions bounds the {{ }} template expressions of one
// workflow spec: far more than any workflow needs, and a bound on what
// compiling one spec costs the manager.
const MaxTemplateExpressions = 1000

// compileShared is Compile for a spec that is never modified afterwards: its
// program is remembered by the spec's address, skipping the content hash.
func (e *Engine) compileShared(spec *v1alpha1.WorkflowSpec) (*Program, error) {
	e.mu.Lock()
	p, ok := e.shared[spec]
	e.mu.Unlock()
	if ok {
		return p, nil
	}
	p, err := e.Compile(spec)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.shared == nil || len(e.shared) >= maxCachedPrograms || e.sharedWeight+p.weight > maxCachedWeight {
		e.shared = map[*v1alpha1.WorkflowSpec]*Program{}
		e.sharedWeight = 0
	}
	e.shared[spec] = p
	e.sharedWeight += p.weight
	return p, nil
}

func (e *Engine) cached(key [32]byte) (*Program, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, ok := e.cache[key]
	return p, ok
}

// store keeps at most maxCachedPrograms programs and maxCachedWeight
// expressions; when full it starts over, which is cheap next to a compile
// and keeps memory bounded.
func (e *Engine) store(key [32]byte, p *Program) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.cache) >= maxCachedPrograms || e.cacheWeight+p.weight > maxCachedWeight {
		e.cache = map[[32]byte]*Program{}
		e.cacheWeight = 0
	}
	e.cache[key] = p
	e.cacheWeight += p.weight
}

const (
	maxCachedPrograms = 1024
	// maxCachedWeight: about 20,000 compiled expressions, a few hundred MB
	// at most, and room for hundreds of ordinary workflows.
	maxCachedWeight = 20 * MaxTemplateExpressions
)

func (e *Engine) compile(spec *v1alpha1.WorkflowSpec) (*Program, error) {
	var pr problems
	p := &Program{spec: spec, stepIndex: map[string]int{}}
	e.compileTrigger(p, &pr)
	for i := range spec.Conditions {
		e.compileCondition(p, i, &pr)
	}
	if spec.Subject != "" {
		prg, err := e.env.Compile(string(spec.Subject), expr.AnyOutput)
		if err != nil {
			pr.addErr("spec.subject", err)
		}
		p.subject = prg
	}
	for i, g := range spec.ExitWhen {
		field := fmt.Sprintf("spec.exitWhen[%d]", i)
		if len(g.Types) == 0 {
			pr.add(field+".types", "needs at least one event type")
		}
		cg := compiledGoal{name: g.Name, types: g.Types}
		if cg.name == "" {
			cg.name = fmt.Sprintf("exitWhen[%d]", i)
		}
		if g.If != "" {
			prg, err := e.env.Compile(string(g.If), expr.BoolOutput)
			if err != nil {
				pr.addErr(field+".if", err)
			}
			cg.prg = prg
		}
		p.exitGoals = append(p.exitGoals, cg)
	}
	if len(spec.Steps) == 0 {
		pr.add("spec.steps", "needs at least one step")
	}
	for i := range spec.Steps {
		name := spec.Steps[i].Name
		if name == "" {
			pr.add(fmt.Sprintf("spec.steps[%d].name", i), "is required")
		} else if _, dup := p.stepIndex[name]; dup {
			pr.add(fmt.Sprintf("spec.steps[%d].name", i), "duplicate step name %q", name)
		} else {
			p.stepIndex[name] = i
		}
	}
	for i := range spec.Steps {
		p.steps = append(p.steps, e.compileStep(spec, i, p.stepIndex, &pr))
	}
	if spec.Retry != nil {
		if _, err := parseRetry(nil, spec.Retry); err != nil {
			pr.add("spec.retry", "%v", err)
		}
	}
	if err := pr.err(); err != nil {
		return nil, err
	}
	return p, nil
}

func (e *Engine) compileTrigger(p *Program, pr *problems) {
	t := p.spec.Trigger
	set := 0
	if t.Event != nil {
		set++
		if len(t.Event.Types) == 0 {
			pr.add("spec.trigger.event.types", "needs at least one event type")
		}
		if t.Event.Delay != nil {
			d, err := t.Event.Delay.Parse()
			if err != nil {
				pr.add("spec.trigger.event.delay", "%v", err)
			}
			p.delay = d
		}
	}
	if t.Schedule != nil {
		set++
	}
	if t.DateField != nil {
		set++
		df := t.DateField
		prg, err := e.env.Compile(string(df.Field), expr.AnyOutput)
		if err != nil {
			pr.addErr("spec.trigger.dateField.field", err)
		}
		p.dateField = prg
		if p.dateOffsetDays, p.dateOffset, err = df.Offset.Calendar(); err != nil {
			pr.add("spec.trigger.dateField.offset", "%v", err)
		}
		if p.dateZone, err = expr.LoadZone(df.TimeZone); err != nil {
			pr.add("spec.trigger.dateField.timeZone", "%v", err)
		}
	}
	if set != 1 {
		pr.add("spec.trigger", "set exactly one of event, schedule or dateField")
	}
}

func (e *Engine) compileCondition(p *Program, i int, pr *problems) {
	c := p.spec.Conditions[i]
	field := fmt.Sprintf("spec.conditions[%d]", i)
	name := c.Name
	if name == "" {
		name = fmt.Sprintf("conditions[%d]", i)
	}
	var src, at, display string
	switch {
	case c.Expression != "" && c.Field == "" && c.BusinessHours == nil:
		src, at = string(c.Expression), field+".expression"
	case c.Field != "" && c.Expression == "" && c.BusinessHours == nil:
		var raw []byte
		if c.Value != nil {
			raw = c.Value.Raw
		}
		s, err := expr.ConditionCEL(c.Field, string(c.Operator), raw)
		var fe *expr.FieldError
		if errors.As(err, &fe) {
			pr.add(field+"."+fe.Field, "%s", fe.Message)
			return
		}
		src, at = s, field+".field"
		switch c.Operator {
		case "Equals", "NotEquals", "GreaterThan", "LessThan", "In", "NotIn":
		default:
			display = strings.TrimSpace(fmt.Sprintf("%s %s %s", c.Field, c.Operator, raw))
		}
	case c.BusinessHours != nil && c.Expression == "" && c.Field == "":
		bh := c.BusinessHours
		s, err := expr.BusinessHoursCEL(bh.TimeZone, weekdayStrings(bh.Days), bh.From, bh.To)
		if err != nil {
			pr.add(field+".businessHours", "%v", err)
			return
		}
		src, at = s, field+".businessHours"
	default:
		pr.add(field, "set exactly one of expression, field (with operator) or businessHours")
		return
	}
	prg, err := e.env.Compile(src, expr.BoolOutput)
	if err != nil {
		pr.addErr(at, err)
		return
	}
	if display == "" {
		display = src
	}
	p.conditions = append(p.conditions, compiledCondition{name: name, prg: prg, display: display})
}

func weekdayStrings(days []v1alpha1.Weekday) []string {
	out := make([]string, len(days))
	for i, d := range days {
		out[i] = string(d)
	}
	return out
}

// stepKind is the JSON name of the one action a step sets, "" when it sets
// none, "!" when it sets several.
func stepKind(step *v1alpha1.Step) string {
	v := reflect.ValueOf(step).Elem()
	kind := ""
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		if f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Struct &&
			f.Type.Elem() != reflect.TypeOf(v1alpha1.RetryPolicy{}) && f.Type.Elem() != reflect.TypeOf(v1alpha1.Duration("")) && !v.Field(i).IsNil() {
			if kind != "" {
				return "!"
			}
			kind = jsonName(f)
		}
	}
	return kind
}
