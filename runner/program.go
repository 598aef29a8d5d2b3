package runner

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/runner/expr"
)

// Enrollment is how the enrollment conditions evaluated for one event.
type Enrollment struct {
	// Enroll is true when every condition held.
	Enroll bool
	// Results has one entry per condition, in order.
	Results []v1alpha1.ConditionResult
	// Message explains a refusal (the first false condition) for people.
	Message string
}

// Triggers reports whether ev's type (and source, if the trigger names one)
// matches the event or dateField trigger. Schedule triggers match no event.
func (p *Program) Triggers(ev *v1alpha1.CloudEvent) bool {
	if ev == nil {
		return false
	}
	t := p.spec.Trigger
	switch {
	case t.Event != nil:
		return hasType(t.Event.Types, ev.Type) && (t.Event.Source == "" || t.Event.Source == ev.Source)
	case t.DateField != nil:
		return hasType(t.DateField.Types, ev.Type)
	}
	return false
}

func hasType(types []v1alpha1.EventType, t string) bool {
	for _, x := range types {
		if string(x) == t {
			return true
		}
	}
	return false
}

// Subject evaluates spec.subject (default: ev.Subject; schedule triggers:
// trigger.schedule.subject). It is an error when the result is missing or empty.
func (p *Program) Subject(ev *v1alpha1.CloudEvent, now time.Time) (string, error) {
	if p.subject == nil {
		if ev != nil && ev.Subject != "" {
			return ev.Subject, nil
		}
		if s := p.spec.Trigger.Schedule; s != nil && s.Subject != "" {
			return s.Subject, nil
		}
		return "", errors.New("the event has no subject attribute and spec.subject is not set")
	}
	vars, err := p.eventScope(ev, "", now)
	if err != nil {
		return "", err
	}
	v, err := p.subject.Eval(vars)
	if err != nil {
		return "", fmt.Errorf("spec.subject: %w", err)
	}
	s := expr.Stringify(v)
	if s == "" {
		return "", fmt.Errorf("spec.subject %q is empty for event %s", p.subject.Source, eventID(ev))
	}
	return s, nil
}

func eventID(ev *v1alpha1.CloudEvent) string {
	if ev == nil {
		return "<none>"
	}
	return ev.Source + "/" + ev.ID
}

// eventScope is the variables for evaluating against ev alone.
func (p *Program) eventScope(ev *v1alpha1.CloudEvent, subject string, now time.Time) (map[string]any, error) {
	base, err := expr.EventVars(ev)
	if err != nil {
		return nil, err
	}
	if subject == "" && ev != nil {
		subject = ev.Subject
	}
	return expr.With(base, subject, now, nil), nil
}

// Evaluate runs the enrollment conditions in order, all of them, so the
// results explain themselves. A missing field makes a condition false with
// a message; any other evaluation failure (a cost limit, a type mismatch)
// also makes it false and is returned as the error.
func (p *Program) Evaluate(ev *v1alpha1.CloudEvent, now time.Time) (Enrollment, error) {
	vars, err := p.eventScope(ev, "", now)
	if err != nil {
		return Enrollment{Message: err.Error()}, err
	}
	if p.subject != nil {
		if v, err := p.subject.Eval(vars); err == nil {
			vars[expr.VarSubject] = expr.Stringify(v)
		}
	}
	return p.evaluateWith(vars)
}

func (p *Program) evaluateWith(vars map[string]any) (Enrollment, error) {
	en := Enrollment{Enroll: true}
	var errs []error
	for _, c := range p.conditions {
		r := v1alpha1.ConditionResult{Name: c.name, Expression: truncate(c.prg.Source, 4096)}
		ok, err := c.prg.EvalBool(vars)
		switch {
		case err == nil:
			r.Result = ok
			if !ok {
				r.Message = withValues("false", c.prg.Explain(vars))
			}
		case errors.Is(err, expr.ErrMissing):
			r.Message = withValues("missing field, so false: "+missingDetail(err), c.prg.Explain(vars))
		default:
			r.Message = withValues("evaluation failed, so false: "+err.Error(), c.prg.Explain(vars))
			errs = append(errs, fmt.Errorf("condition %q: %w", c.name, err))
		}
		r.Message = truncate(r.Message, 1024)
		if !r.Result {
			if en.Enroll {
				// e.g. condition "us": contact.country == "US" was false (contact.country = "DE")
				en.Message = fmt.Sprintf("condition %q: %s", c.name, r.Message)
				if err == nil {
					en.Message = fmt.Sprintf("condition %q: %s was %s", c.name, c.display, r.Message)
				}
			}
			en.Enroll = false
		}
		en.Results = append(en.Results, r)
	}
	return en, errors.Join(errs...)
}

// withValues appends the values that decided, in parentheses, when there are any.
func withValues(msg, values string) string {
	if values == "" {
		return msg
	}
	return msg + " (" + values + ")"
}

// missingDetail keeps the CEL part of a missing-field error ("no such key: source").
func missingDetail(err error) string {
	var ee *expr.EvalError
	if errors.As(err, &ee) {
		return ee.Err.Error()
	}
	return err.Error()
}

// StartAt says when a run for ev should start. Event triggers: the event's
// time (else now) plus the trigger's delay. DateField triggers: the date
// plus the offset; cleared is true when the field is missing, null or
// empty. Schedule triggers have no event-derived start: an error.
func (p *Program) StartAt(ev *v1alpha1.CloudEvent, now time.Time) (time.Time, bool, error) {
	t := p.spec.Trigger
	switch {
	case t.Event != nil:
		base := now
		if ev != nil && ev.Time != nil && !ev.Time.IsZero() {
			base = ev.Time.Time
		}
		return base.Add(p.delay), false, nil
	case t.DateField != nil:
		vars, err := p.eventScope(ev, "", now)
		if err != nil {
			return time.Time{}, false, err
		}
		v, err := p.dateField.Eval(vars)
		if errors.Is(err, expr.ErrMissing) {
			return time.Time{}, true, nil
		}
		if err != nil {
			return time.Time{}, false, fmt.Errorf("spec.trigger.dateField.field: %w", err)
		}
		n := expr.Native(v)
		if n == nil || n == "" {
			return time.Time{}, true, nil
		}
		at, err := expr.ToTime(n, p.dateZone)
		if err != nil {
			return time.Time{}, false, fmt.Errorf("spec.trigger.dateField.field %q: %w", p.dateField.Source, err)
		}
		// Days are calendar days in the trigger's zone: "-14d" from a
		// midnight is a midnight, across a DST change too.
		return at.In(p.dateZone).AddDate(0, 0, p.dateOffsetDays).Add(p.dateOffset), false, nil
	}
	return time.Time{}, false, errors.New("schedule triggers start on cron ticks, not at an event-derived time")
}

// Interested reports, without CEL, whether a run that is not finished
// listens to ev.Type now: its current waitForEvent step's types, or any
// exit goal's types. Dry runs listen to no real event. spec is the
// workflow spec the run executes (see SpecOf).
func Interested(run *v1alpha1.WorkflowRun, spec *v1alpha1.WorkflowSpec, ev *v1alpha1.CloudEvent) bool {
	if run == nil || spec == nil || ev == nil || run.Status.Phase.IsFinished() || run.Spec.DryRun {
		return false
	}
	for _, g := range spec.ExitWhen {
		if hasType(g.Types, ev.Type) {
			return true
		}
	}
	cur := run.Status.CurrentStep
	if cur == "" {
		return false
	}
	i := slices.IndexFunc(spec.Steps, func(s v1alpha1.Step) bool { return s.Name == cur })
	if i < 0 || spec.Steps[i].WaitForEvent == nil {
		return false
	}
	st := stepStatus(&run.Status, cur)
	return st != nil && st.Phase == v1alpha1.StepWaiting && hasType(spec.Steps[i].WaitForEvent.Types, ev.Type)
}

// ListensTo reports whether a workflow listens to events of type typ at
// any point of a run: an exit goal, or any waitForEvent step.
func ListensTo(spec *v1alpha1.WorkflowSpec, typ string) bool {
	if spec == nil {
		return false
	}
	for _, g := range spec.ExitWhen {
		if hasType(g.Types, typ) {
			return true
		}
	}
	for i := range spec.Steps {
		if w := spec.Steps[i].WaitForEvent; w != nil && hasType(w.Types, typ) {
			return true
		}
	}
	return false
}

// ListenedTypes are the event types a run of spec may listen to after it
// enrolls: its exit goals' and its waitForEvent steps', each once.
func ListenedTypes(spec *v1alpha1.WorkflowSpec) []string {
	if spec == nil {
		return nil
	}
	var out []string
	add := func(types []v1alpha1.EventType) {
		for _, t := range types {
			if !slices.Contains(out, string(t)) {
				out = append(out, string(t))
			}
		}
	}
	for _, g := range spec.ExitWhen {
		add(g.Types)
	}
	for i := range spec.Steps {
		if w := spec.Steps[i].WaitForEvent; w != nil {
			add(w.Types)
		}
	}
	return out
}

// stepStatus finds a step's log entry.
func stepStatus(st *v1alpha1.WorkflowRunStatus, name string) *v1alpha1.StepStatus {
	for i := range st.Steps {
		if st.Steps[i].Name == name {
			return &st.Steps[i]
		}
	}
	return nil
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8RuneStart(s[cut]) {
		cut--
	}
	return strings.ToValidUTF8(s[:cut], "") + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
