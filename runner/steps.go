package runner

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/runner/actions"
	"github.com/crmflow/crmflow/runner/expr"
)

// idempotencyKey identifies one visit of a step, the same for every attempt
// of that visit: "<run UID>/<step>" on the first visit (the key runs had
// before visits were counted), "<run UID>/<step>/<visit>" on later ones, so
// every pass of a branch loop is a new side effect to the receiver.
func (a *advance) idempotencyKey(step string, visit int32) string {
	key := string(a.run.UID) + "/" + step
	if visit > 1 {
		key += "/" + strconv.Itoa(int(visit))
	}
	return key
}

// visitOf is a step entry's visit; entries written before visits were
// counted are first visits.
func visitOf(ss *v1alpha1.StepStatus) int32 { return max(ss.Visit, 1) }

// origin identifies a step's action for the executor: idempotency key and
// loop-prevention metadata (the executor appends the run's own link).
func (a *advance) origin(ss *v1alpha1.StepStatus) actions.Origin {
	key := ss.IdempotencyKey
	if key == "" {
		key = a.idempotencyKey(ss.Name, visitOf(ss))
	}
	o := actions.Origin{
		Namespace: a.run.Namespace, Workflow: a.run.Spec.WorkflowName, Run: a.run.Name,
		RunUID: string(a.run.UID), Step: ss.Name, Subject: a.run.Spec.Subject,
		IdempotencyKey: key,
	}
	if c := a.run.Spec.Cause; c != nil {
		o.Hops = c.Hops
		o.Chain = append([]string(nil), c.Links...)
	}
	return o
}

// start begins the current step: guard, then its action.
func (a *advance) start(idx int, cs *compiledStep, ss *v1alpha1.StepStatus) stepResult {
	ss.StartTime = a.metaNow()
	ss.Visit = visitOf(ss)
	ss.IdempotencyKey = a.idempotencyKey(ss.Name, ss.Visit)
	ss.Phase = v1alpha1.StepRunning
	if cs.guard != nil {
		ok, err := cs.guard.EvalBool(a.vars())
		switch {
		case err != nil && !errors.Is(err, expr.ErrMissing):
			return a.stepFailed(idx, cs, ss, fmt.Errorf("if: %w", err))
		case err != nil:
			a.skip(ss, "if is false (missing field: "+missingDetail(err)+"): skipped")
			return a.following(idx)
		case !ok:
			a.skip(ss, "if is false: skipped")
			return a.following(idx)
		}
	}
	switch cs.kind {
	case kindWait:
		return a.startWait(idx, cs, ss)
	case kindWaitForEvent:
		return a.startWaitForEvent(idx, cs, ss)
	case kindBranch:
		return a.branch(idx, cs, ss)
	case kindEnd:
		return a.end(cs, ss)
	}
	return a.attempt(idx, cs, ss)
}

func (a *advance) skip(ss *v1alpha1.StepStatus, msg string) {
	ss.Phase = v1alpha1.StepSkipped
	ss.FinishTime = a.metaNow()
	ss.Message = truncate(msg, 2048)
	a.scope = nil
}

// succeed records a step's success.
func (a *advance) succeed(ss *v1alpha1.StepStatus, msg string, output map[string]any) {
	ss.Phase = v1alpha1.StepSucceeded
	ss.FinishTime = a.metaNow()
	ss.NextAttemptTime = nil
	ss.Message = truncate(msg, 2048)
	ss.Output = capOutput(output, a.e.opts.MaxOutputBytes)
	a.scope = nil
}

// stepFailed records a failed step; the run fails unless continueOnError.
func (a *advance) stepFailed(idx int, cs *compiledStep, ss *v1alpha1.StepStatus, err error) stepResult {
	ss.Phase = v1alpha1.StepFailed
	ss.FinishTime = a.metaNow()
	ss.NextAttemptTime = nil
	ss.Message = truncate(err.Error(), 2048)
	a.scope = nil
	msg := fmt.Sprintf("step %q failed: %v", ss.Name, err)
	if cs.step.ContinueOnError {
		a.transition(true, v1alpha1.ReasonStepFailed, msg+" (continueOnError: going on)")
		return a.following(idx)
	}
	a.finish(v1alpha1.RunFailed, v1alpha1.ReasonStepFailed, msg)
	return stepResult{finished: true}
}

// attempt renders and performs (or, in a dry run, describes) a side-effecting step.
func (a *advance) attempt(idx int, cs *compiledStep, ss *v1alpha1.StepStatus) stepResult {
	req, err := a.buildRequest(cs, a.origin(ss))
	if a.dryRun {
		if err != nil {
			return a.stepFailed(idx, cs, ss, fmt.Errorf("would fail: %w", err))
		}
		a.succeed(ss, describe(req), requestView(req))
		return a.following(idx)
	}
	ss.Attempts++
	if err == nil {
		if a.e.opts.Executor == nil {
			err = permanent(errors.New("the engine has no action executor"))
		} else {
			began := a.e.clock.Now()
			var res actions.Result
			res, err = a.e.opts.Executor.Execute(a.ctx, req)
			a.out.Actions = append(a.out.Actions, ActionRecord{Step: ss.Name, Kind: cs.kind, Duration: a.e.clock.Since(began), Err: err})
			if err == nil {
				a.succeed(ss, res.Message, res.Output)
				return a.following(idx)
			}
		}
	}
	return a.attemptFailed(idx, cs, ss, err)
}

// attemptFailed schedules the next attempt, or fails the step.
func (a *advance) attemptFailed(idx int, cs *compiledStep, ss *v1alpha1.StepStatus, err error) stepResult {
	if actions.IsRetryable(err) && ss.Attempts < cs.retry.attempts {
		at := ceilSecond(a.now.Add(cs.retry.retryDelay(ss.Attempts, actions.RetryAfter(err), a.e.opts.Random)))
		t := metav1.NewTime(at)
		ss.Phase = v1alpha1.StepRunning
		ss.NextAttemptTime = &t
		ss.Message = truncate(fmt.Sprintf("attempt %d of %d failed: %v; next attempt at %s", ss.Attempts, cs.retry.attempts, err, expr.FormatTime(at)), 2048)
		a.hold(at, &v1alpha1.WaitingFor{Reason: v1alpha1.WaitRetry, Message: truncate(fmt.Sprintf("step %q: attempt %d at %s", ss.Name, ss.Attempts+1, expr.FormatTime(at)), 1024)})
		a.transition(true, v1alpha1.ReasonRetrying, ss.Message)
		return stepResult{hold: true}
	}
	why := fmt.Sprintf("failed after %d attempt(s)", ss.Attempts)
	if !actions.IsRetryable(err) {
		why = "failed, not retryable"
	}
	return a.stepFailed(idx, cs, ss, fmt.Errorf("%s: %w", why, err))
}

// retry performs a scheduled attempt once its time has come.
func (a *advance) retry(idx int, cs *compiledStep, ss *v1alpha1.StepStatus) stepResult {
	if !isAction(cs.kind) {
		return a.start(idx, cs, ss) // interrupted flow step: start it again
	}
	if next := ss.NextAttemptTime; next != nil && a.now.Before(next.Time) {
		a.hold(next.Time, &v1alpha1.WaitingFor{Reason: v1alpha1.WaitRetry, Message: fmt.Sprintf("step %q: attempt %d at %s", ss.Name, ss.Attempts+1, expr.FormatTime(next.Time))})
		return stepResult{hold: true}
	}
	ss.NextAttemptTime = nil
	return a.attempt(idx, cs, ss)
}

func isAction(kind string) bool {
	return kind != kindWait && kind != kindWaitForEvent && kind != kindBranch && kind != kindEnd
}

// branch jumps to then when if holds, else to else (default: the next step).
func (a *advance) branch(idx int, cs *compiledStep, ss *v1alpha1.StepStatus) stepResult {
	b := cs.step.Branch
	ok, err := cs.branch.EvalBool(a.vars())
	note := ""
	if err != nil {
		if !errors.Is(err, expr.ErrMissing) {
			return a.stepFailed(idx, cs, ss, fmt.Errorf("branch.if: %w", err))
		}
		note = " (missing field: " + missingDetail(err) + ")"
	}
	target, msg := idx+1, "if is false"+note+": next step"
	switch {
	case ok:
		target, msg = a.p.stepIndex[b.Then], fmt.Sprintf("if is true: jump to %q", b.Then)
	case b.Else != "":
		target, msg = a.p.stepIndex[b.Else], fmt.Sprintf("if is false%s: jump to %q", note, b.Else)
	}
	a.succeed(ss, msg, map[string]any{"taken": ok})
	return stepResult{index: target}
}

// end finishes the run with the step's result, reason and message.
func (a *advance) end(cs *compiledStep, ss *v1alpha1.StepStatus) stepResult {
	e := cs.step.End
	r := &renderer{cs: cs, vars: a.vars()}
	msg := r.str("end.message")
	if r.err != nil {
		msg = "end message did not render: " + r.err.Error()
	}
	reason := v1alpha1.ConditionReason(e.Reason) // the user's own reason
	if reason == "" {
		reason = v1alpha1.ReasonEnded
	}
	if msg == "" {
		msg = fmt.Sprintf("ended by step %q", ss.Name)
	}
	a.succeed(ss, msg, nil)
	phase := v1alpha1.RunSucceeded
	if e.Result == v1alpha1.EndFailed {
		phase = v1alpha1.RunFailed
	}
	a.finish(phase, reason, msg)
	return stepResult{finished: true}
}

// startWait begins a wait step.
func (a *advance) startWait(idx int, cs *compiledStep, ss *v1alpha1.StepStatus) stepResult {
	target, w, err := a.waitTarget(cs, ss, true)
	if err != nil {
		return a.stepFailed(idx, cs, ss, err)
	}
	if a.dryRun {
		a.succeed(ss, "would "+waitPhrase(cs, target, a.now), map[string]any{"until": expr.FormatTime(target)})
		return a.following(idx)
	}
	if !target.After(a.now) {
		a.succeed(ss, "no wait: "+expr.FormatTime(target)+" has passed", nil)
		return a.following(idx)
	}
	ss.Phase = v1alpha1.StepWaiting
	a.hold(target, w)
	return stepResult{hold: true}
}

// resume checks a waiting step: a wait whose time came, or a waitForEvent
// whose timeout passed (events were consumed before).
func (a *advance) resume(idx int, cs *compiledStep, ss *v1alpha1.StepStatus) stepResult {
	if cs.kind == kindWaitForEvent {
		deadline := a.eventDeadline(cs, ss)
		if !a.now.Before(deadline) {
			a.succeed(ss, fmt.Sprintf("timed out after %s without %s", cs.step.WaitForEvent.Timeout, joinTypes(cs.step.WaitForEvent.Types)),
				map[string]any{"received": false, "timedOut": true})
			return a.following(idx)
		}
		a.hold(deadline, a.eventWaitingFor(cs, deadline))
		return stepResult{hold: true}
	}
	if cs.kind != kindWait {
		return a.start(idx, cs, ss)
	}
	target, w, err := a.waitTarget(cs, ss, false)
	if err != nil {
		return a.stepFailed(idx, cs, ss, err)
	}
	if !a.now.Before(target) {
		a.succeed(ss, "waited until "+expr.FormatTime(target), nil)
		return a.following(idx)
	}
	a.hold(target, w)
	return stepResult{hold: true}
}

// waitTarget computes when a wait step ends. Durations count from the
// step's start; until and businessHours are computed when the step starts
// and read back from status.wakeAt afterwards.
func (a *advance) waitTarget(cs *compiledStep, ss *v1alpha1.StepStatus, starting bool) (time.Time, *v1alpha1.WaitingFor, error) {
	w := cs.step.Wait
	switch {
	case w.Duration != nil:
		at := ss.StartTime.Add(cs.duration)
		return at, &v1alpha1.WaitingFor{Reason: v1alpha1.WaitDuration, Message: fmt.Sprintf("%s, until %s", *w.Duration, expr.FormatTime(at))}, nil
	case !starting && a.st.WakeAt != nil:
		reason := v1alpha1.WaitUntil
		if cs.window != nil {
			reason = v1alpha1.WaitBusinessHours
		}
		return a.st.WakeAt.Time, &v1alpha1.WaitingFor{Reason: reason, Message: "until " + expr.FormatTime(a.st.WakeAt.Time)}, nil
	case cs.until != nil:
		v, err := cs.until.Eval(a.vars())
		if err != nil {
			return time.Time{}, nil, fmt.Errorf("wait.until: %w", err)
		}
		at, err := expr.ToTime(expr.Native(v), time.UTC)
		if err != nil {
			return time.Time{}, nil, fmt.Errorf("wait.until: %w", err)
		}
		return at, &v1alpha1.WaitingFor{Reason: v1alpha1.WaitUntil, Message: "until " + expr.FormatTime(at)}, nil
	default:
		at := cs.window.Next(a.now)
		return at, &v1alpha1.WaitingFor{Reason: v1alpha1.WaitBusinessHours, Message: "until business hours open at " + expr.FormatTime(at)}, nil
	}
}

// waitPhrase says what a dry run would have waited for.
func waitPhrase(cs *compiledStep, target, now time.Time) string {
	w := cs.step.Wait
	switch {
	case w.Duration != nil:
		return "wait " + string(*w.Duration)
	case !target.After(now):
		return "not wait: " + expr.FormatTime(target) + " has passed"
	case cs.window != nil:
		return "wait for business hours until " + expr.FormatTime(target)
	default:
		return "wait until " + expr.FormatTime(target)
	}
}

func joinTypes(types []v1alpha1.EventType) string {
	s := make([]string, len(types))
	for i, t := range types {
		s[i] = string(t)
	}
	return strings.Join(s, " or ")
}
