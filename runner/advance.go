package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/runner/expr"
)

// advance is the state of one Advance call.
type advance struct {
	e       *Engine
	ctx     context.Context
	in      Input
	run     *v1alpha1.WorkflowRun
	spec    *v1alpha1.WorkflowSpec
	p       *Program
	st      *v1alpha1.WorkflowRunStatus
	now     time.Time
	dryRun  bool
	base    map[string]any // the triggering event's variables
	scope   map[string]any // cached variables; nil after a step changed
	secrets *secretSource
	out     Outcome
	done    bool // the run finished in this call
}

// maxStepsPerAdvance stops a branch loop with no wait in it.
const maxStepsPerAdvance = 1000

// SpecOf is the workflow spec a run executes: resolved (from the run's
// ControllerRevision) when given, else the run's inline spec.workflow.
func SpecOf(run *v1alpha1.WorkflowRun, resolved *v1alpha1.WorkflowSpec) *v1alpha1.WorkflowSpec {
	if resolved != nil {
		return resolved
	}
	if run != nil {
		return run.Spec.Workflow
	}
	return nil
}

// Advance moves a run as far as it can without waiting: it consumes
// the new entries of spec.inbox (exit goals first, then the current waitForEvent),
// evaluates if-guards, performs instant steps (a failed attempt schedules
// its retry through wakeAt/nextAttemptTime, never by sleeping), holds at a
// step boundary while Input.WorkflowPaused, honours spec.cancel,
// spec.scheduledTime and spec.dryRun, and returns the complete new status.
func (e *Engine) Advance(ctx context.Context, in Input) (Outcome, error) {
	if in.Run == nil {
		return Outcome{}, errors.New("advance: no run")
	}
	spec := SpecOf(in.Run, in.Spec)
	if spec == nil {
		return Outcome{}, fmt.Errorf("advance run %s: no workflow spec (neither a resolved revision nor spec.workflow)", in.Run.Name)
	}
	a := &advance{e: e, ctx: ctx, in: in, run: in.Run, spec: spec, st: in.Run.Status.DeepCopy(), now: in.Now, dryRun: in.Run.Spec.DryRun}
	a.secrets = &secretSource{ctx: ctx, reader: in.Secrets, namespace: in.Run.Namespace, dryRun: a.dryRun}
	if err := a.advance(); err != nil {
		return Outcome{}, err
	}
	a.out.Status = *a.st
	if a.st.WakeAt != nil {
		t := a.st.WakeAt.Time
		a.out.WakeAt = &t
	}
	return a.out, nil
}

func (a *advance) advance() error {
	if a.st.Phase.IsFinished() {
		return nil
	}
	a.st.ObservedGeneration = a.run.Generation
	compile := a.e.Compile
	if a.in.Spec != nil {
		compile = a.e.compileShared
	}
	p, err := compile(a.spec)
	var ce *CompileError
	if errors.As(err, &ce) {
		a.initStatus()
		a.finish(v1alpha1.RunFailed, v1alpha1.ReasonInvalidWorkflow, "the workflow snapshot does not compile: "+truncate(ce.Error(), 1500))
		return nil
	}
	if err != nil {
		return fmt.Errorf("compile workflow %s: %w", a.run.Spec.WorkflowName, err)
	}
	a.p = p
	if a.base, err = expr.EventVars(a.run.Spec.Event); err != nil {
		a.initStatus()
		a.finish(v1alpha1.RunFailed, v1alpha1.ReasonInvalidWorkflow, err.Error())
		return nil
	}
	if a.st.Phase == "" {
		if !a.enroll() {
			return nil
		}
	}
	if a.run.Spec.Cancel {
		a.cancel()
		return nil
	}
	if a.consumeEvents(); a.done {
		return nil
	}
	if a.notYetScheduled() {
		return nil
	}
	return a.loop()
}

// initStatus sets what every run has from its first call.
func (a *advance) initStatus() {
	if a.st.Phase == "" {
		a.st.Phase = v1alpha1.RunRunning
		a.st.StartTime = a.metaNow()
		a.setCondition(v1alpha1.RunSucceededCondition, metav1.ConditionUnknown, v1alpha1.ReasonRunning, "the run is in progress")
	}
}

// enroll initialises the status and evaluates the enrollment conditions with
// now = the event's time (else the run's creation). It reports whether the run goes on.
func (a *advance) enroll() bool {
	a.initStatus()
	at := a.run.CreationTimestamp.Time
	if ev := a.run.Spec.Event; ev != nil && ev.Time != nil && !ev.Time.IsZero() {
		at = ev.Time.Time
	}
	if at.IsZero() {
		at = a.now
	}
	vars := expr.With(a.base, a.run.Spec.Subject, at, a.runVars())
	en, err := a.p.evaluateWith(vars)
	a.st.ConditionResults = en.Results
	if !en.Enroll {
		msg := en.Message
		a.setCondition(v1alpha1.RunEnrolledCondition, metav1.ConditionFalse, v1alpha1.ReasonConditionsNotMet, msg)
		if err != nil {
			a.finish(v1alpha1.RunFailed, v1alpha1.ReasonConditionsNotMet, msg)
		} else {
			a.finish(v1alpha1.RunSucceeded, v1alpha1.ReasonConditionsNotMet, msg)
		}
		return false
	}
	msg := fmt.Sprintf("%d condition(s) held; enrolled %s", len(en.Results), a.run.Spec.Subject)
	if a.dryRun {
		msg += " (dry run: nothing will be sent)"
	}
	a.setCondition(v1alpha1.RunEnrolledCondition, metav1.ConditionTrue, v1alpha1.ReasonConditionsMet, msg)
	a.transition(false, v1alpha1.ReasonConditionsMet, msg)
	return true
}

// notYetScheduled holds a run whose spec.scheduledTime is ahead (not in a dry run).
func (a *advance) notYetScheduled() bool {
	sched := a.run.Spec.ScheduledTime
	if sched == nil || len(a.st.Steps) > 0 || !a.now.Before(sched.Time) {
		return false
	}
	if a.dryRun {
		a.transition(false, v1alpha1.ReasonDryRun, "would start at "+expr.FormatTime(sched.Time))
		return false
	}
	a.st.Phase = v1alpha1.RunPending
	a.hold(sched.Time, &v1alpha1.WaitingFor{Reason: v1alpha1.WaitDelay, Message: "starts at " + expr.FormatTime(sched.Time)})
	return true
}

// cancel ends the run because spec.cancel is set, saying why when the
// canceller did (AnnotationCancelReason).
func (a *advance) cancel() {
	if ss := a.current(); ss != nil && !stepFinished(ss.Phase) {
		ss.Phase = v1alpha1.StepFailed
		ss.FinishTime = a.metaNow()
		ss.NextAttemptTime = nil
		ss.Message = "cancelled"
	}
	msg := "cancelled by spec.cancel"
	if why := a.run.Annotations[v1alpha1.AnnotationCancelReason]; why != "" {
		msg = "cancelled: " + why
	}
	a.finish(v1alpha1.RunCancelled, v1alpha1.ReasonCancelled, msg)
}

func stepFinished(p v1alpha1.StepPhase) bool {
	return p == v1alpha1.StepSucceeded || p == v1alpha1.StepFailed || p == v1alpha1.StepSkipped
}

// loop runs steps until the run waits or finishes.
func (a *advance) loop() error {
	if a.st.CurrentStep == "" {
		a.enter(0)
	}
	for n := 0; !a.done; n++ {
		if n >= maxStepsPerAdvance {
			a.finish(v1alpha1.RunFailed, v1alpha1.ReasonStepFailed,
				fmt.Sprintf("more than %d steps without a wait: does a branch loop forever?", maxStepsPerAdvance))
			return nil
		}
		idx, ok := a.p.stepIndex[a.st.CurrentStep]
		if !ok {
			a.finish(v1alpha1.RunFailed, v1alpha1.ReasonInvalidWorkflow, fmt.Sprintf("current step %q is not in the workflow", a.st.CurrentStep))
			return nil
		}
		cs := &a.p.steps[idx]
		ss := a.entry(cs.step.Name)
		var next stepResult
		switch ss.Phase {
		case v1alpha1.StepPending, "":
			if a.in.WorkflowPaused {
				a.pause()
				return nil
			}
			next = a.start(idx, cs, ss)
		case v1alpha1.StepRunning:
			next = a.retry(idx, cs, ss)
		case v1alpha1.StepWaiting:
			next = a.resume(idx, cs, ss)
		default:
			next = a.following(idx)
		}
		if next.hold {
			return nil
		}
		if next.finished {
			continue
		}
		if next.index >= len(a.p.steps) {
			a.finish(v1alpha1.RunSucceeded, v1alpha1.ReasonCompleted, "all steps done")
			continue
		}
		a.enter(next.index)
	}
	return nil
}

// stepResult says where the run goes after a step.
type stepResult struct {
	index    int  // the next step
	hold     bool // the run waits; status already says for what
	finished bool // the run finished
}

func (a *advance) following(idx int) stepResult { return stepResult{index: idx + 1} }

// enter makes step idx current with a fresh log entry (a step reached again
// through a branch starts over as its next visit, with a new idempotency
// key, and remembers the events its earlier visits consumed).
func (a *advance) enter(idx int) {
	name := a.p.steps[idx].step.Name
	a.st.CurrentStep = name
	a.st.WakeAt, a.st.WaitingFor = nil, nil
	a.st.Phase = v1alpha1.RunRunning
	fresh := v1alpha1.StepStatus{Name: name, Phase: v1alpha1.StepPending, Visit: 1}
	if ss := stepStatus(a.st, name); ss != nil {
		fresh.Visit = visitOf(ss) + 1
		fresh.ConsumedEvents = consumedBy(ss)
		*ss = fresh
	} else {
		a.st.Steps = append(a.st.Steps, fresh)
	}
	a.scope = nil
}

// entry returns the log entry of a step, creating it when missing.
func (a *advance) entry(name string) *v1alpha1.StepStatus {
	if ss := stepStatus(a.st, name); ss != nil {
		return ss
	}
	a.st.Steps = append(a.st.Steps, v1alpha1.StepStatus{Name: name, Phase: v1alpha1.StepPending, Visit: 1})
	return &a.st.Steps[len(a.st.Steps)-1]
}

// current is the log entry of the current step, nil when there is none.
func (a *advance) current() *v1alpha1.StepStatus {
	if a.st.CurrentStep == "" {
		return nil
	}
	return stepStatus(a.st, a.st.CurrentStep)
}

// pause holds the run at a step boundary while its workflow is paused.
func (a *advance) pause() {
	was := a.st.WaitingFor != nil && a.st.WaitingFor.Reason == v1alpha1.WaitPaused
	a.st.Phase = v1alpha1.RunWaiting
	a.st.WakeAt = nil
	a.st.WaitingFor = &v1alpha1.WaitingFor{Reason: v1alpha1.WaitPaused, Message: fmt.Sprintf("workflow %s is paused; holding before step %q", a.run.Spec.WorkflowName, a.st.CurrentStep)}
	if !was {
		a.transition(false, v1alpha1.ReasonPaused, a.st.WaitingFor.Message)
	}
}

// hold makes the run wait until at (zero: no deadline) for the given reason.
func (a *advance) hold(at time.Time, w *v1alpha1.WaitingFor) {
	if a.st.Phase != v1alpha1.RunPending {
		a.st.Phase = v1alpha1.RunWaiting
	}
	a.st.WaitingFor = w
	a.st.WakeAt = nil
	if !at.IsZero() {
		t := metav1.NewTime(ceilSecond(at))
		a.st.WakeAt = &t
	}
}

// ceilSecond rounds t up to a whole second: status times are stored with
// second precision, and rounding up keeps a stored wake from firing early.
func ceilSecond(t time.Time) time.Time {
	if r := t.Truncate(time.Second); !r.Equal(t) {
		return r.Add(time.Second)
	}
	return t
}

// metaNow is now as status records it: rounded up to the whole second the
// API keeps, so a re-read returns exactly what was written, and a wait that
// starts at 10.9 s is recorded as starting at 11 s, never earlier. Decisions
// (is a wake due?) compare against the precise a.now.
func (a *advance) metaNow() *metav1.Time {
	t := metav1.NewTime(ceilSecond(a.now))
	return &t
}
