package runner

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/runner/expr"
	"github.com/crmflow/crmflow/runner/jsonvalue"
)

// consumeEvents handles the new entries of spec.inbox (those after
// status.inboxCursor), each exactly once: an event that meets an exit goal
// ends the run (GoalReached); one that matches the current waitForEvent
// ends that wait; any other is dropped (the run stopped listening to it).
// An event this run already consumed (the same CloudEvents source and id as
// its triggering event or as an event that ended one of its waits) is a
// repeated delivery: it is dropped without effect and reported as a
// DuplicateEvent transition. The cursor moves past every entry handled.
func (a *advance) consumeEvents() {
	events := NewInboxEvents(a.run, a.st.InboxConsumed)
	if len(events) == 0 {
		return
	}
	a.st.InboxConsumed += int64(len(events))
	seen := a.consumedEvents()
	var dups []string
	for i := range events {
		ev := &events[i]
		key := eventKey{source: ev.Source, id: ev.ID}
		if seen[key] {
			dups = append(dups, eventID(ev))
			continue
		}
		seen[key] = true
		if goal, ok := a.matchGoal(ev); ok {
			if ss := a.current(); ss != nil && !stepFinished(ss.Phase) {
				a.skip(ss, fmt.Sprintf("run ended: goal %q reached", goal))
			}
			a.finish(v1alpha1.RunSucceeded, v1alpha1.ReasonGoalReached,
				fmt.Sprintf("goal %q reached by %s event %s", goal, ev.Type, eventID(ev)))
			return
		}
		a.matchWait(ev)
	}
	if len(dups) > 0 {
		a.transition(false, v1alpha1.ReasonDuplicateEvent,
			fmt.Sprintf("dropped %d repeated delivery(ies) of event(s) this run already consumed: %s", len(dups), strings.Join(dups, ", ")))
	}
}

// NewInboxEvents returns the entries of run's spec.inbox not consumed yet
// when consumed entries have been consumed in all (status.inboxConsumed).
func NewInboxEvents(run *v1alpha1.WorkflowRun, consumed int64) []v1alpha1.CloudEvent {
	skip := consumed - run.Spec.InboxDropped
	switch {
	case skip <= 0:
		return run.Spec.Inbox
	case skip >= int64(len(run.Spec.Inbox)):
		return nil
	}
	return run.Spec.Inbox[skip:]
}

// eventKey identifies a CloudEvent: its id is unique per source.
type eventKey struct{ source, id string }

// consumedEvents are the events this run has already consumed: its
// triggering event and every event recorded as having ended one of its
// waits (steps[].output.event).
func (a *advance) consumedEvents() map[eventKey]bool {
	seen := map[eventKey]bool{}
	if ev := a.run.Spec.Event; ev != nil {
		seen[eventKey{source: ev.Source, id: ev.ID}] = true
	}
	for i := range a.st.Steps {
		for _, r := range consumedBy(&a.st.Steps[i]) {
			seen[eventKey{source: r.Source, id: r.ID}] = true
		}
	}
	return seen
}

// maxConsumedEvents bounds steps[].consumedEvents (the API's MaxItems).
const maxConsumedEvents = 16

// consumedBy lists the events a step entry has consumed: on earlier visits
// (consumedEvents) and on this one (output.event), newest last, at most
// maxConsumedEvents.
func consumedBy(ss *v1alpha1.StepStatus) []v1alpha1.EventReference {
	out := append([]v1alpha1.EventReference(nil), ss.ConsumedEvents...)
	if ev, ok := decodeOutput(ss.Output)["event"].(map[string]any); ok {
		id, _ := ev["id"].(string)
		source, _ := ev["source"].(string)
		if id != "" && source != "" {
			out = append(out, v1alpha1.EventReference{Source: source, ID: id})
		}
	}
	if len(out) > maxConsumedEvents {
		out = out[len(out)-maxConsumedEvents:]
	}
	return out
}

// matchGoal reports the first exit goal ev meets.
func (a *advance) matchGoal(ev *v1alpha1.CloudEvent) (string, bool) {
	for _, g := range a.p.exitGoals {
		if !hasType(g.types, ev.Type) {
			continue
		}
		if g.prg == nil {
			return g.name, true
		}
		vars, err := a.eventVars(ev)
		if err != nil {
			continue
		}
		if ok, err := g.prg.EvalBool(vars); err == nil && ok {
			return g.name, true
		}
	}
	return "", false
}

// matchWait ends the current waitForEvent with ev when its types and filter match.
func (a *advance) matchWait(ev *v1alpha1.CloudEvent) {
	idx, ok := a.p.stepIndex[a.st.CurrentStep]
	if !ok || a.p.steps[idx].kind != kindWaitForEvent {
		return
	}
	cs := &a.p.steps[idx]
	ss := a.current()
	if ss == nil || ss.Phase != v1alpha1.StepWaiting || !a.eventMatches(cs, ev) {
		return
	}
	a.received(ss, ev, fmt.Sprintf("received %s event %s", ev.Type, eventID(ev)), -1)
	if idx+1 >= len(a.p.steps) {
		a.finish(v1alpha1.RunSucceeded, v1alpha1.ReasonCompleted, "all steps done")
		return
	}
	a.enter(idx + 1)
}

// eventMatches checks a waitForEvent step's types and filter; a filter on a
// missing field does not match.
func (a *advance) eventMatches(cs *compiledStep, ev *v1alpha1.CloudEvent) bool {
	if !hasType(cs.step.WaitForEvent.Types, ev.Type) {
		return false
	}
	if cs.filter == nil {
		return true
	}
	vars, err := a.eventVars(ev)
	if err != nil {
		return false
	}
	ok, err := cs.filter.EvalBool(vars)
	return err == nil && ok
}

// received records the event that ended a wait: steps["x"].received is
// true and steps["x"].event is the event (attributes and data).
//
// The event's source and id must survive the output cap: they are how a
// repeated delivery of the same event is recognised later. When the capped
// output would lose them, the event is recorded without its data.
func (a *advance) received(ss *v1alpha1.StepStatus, ev *v1alpha1.CloudEvent, msg string, simulated int) {
	view := eventView(ev)
	out := map[string]any{"received": true, "timedOut": false, "event": view}
	if simulated >= 0 {
		out["simulatedEvent"] = simulated
	}
	if !keepsEventKey(capOutput(out, a.e.opts.MaxOutputBytes), ev) {
		delete(view, "data")
		view["dataOmitted"] = true
	}
	a.succeed(ss, msg, out)
}

// keepsEventKey reports whether a capped output still names ev by source and id.
func keepsEventKey(raw *runtime.RawExtension, ev *v1alpha1.CloudEvent) bool {
	got, ok := decodeOutput(raw)["event"].(map[string]any)
	return ok && got["id"] == ev.ID && got["source"] == ev.Source
}

// eventView is an event as later steps read it.
func eventView(ev *v1alpha1.CloudEvent) map[string]any {
	v := map[string]any{"id": ev.ID, "source": ev.Source, "type": ev.Type, "subject": ev.Subject}
	if ev.Time != nil {
		v["time"] = expr.FormatTime(ev.Time.Time)
	}
	if ev.Data != nil && len(ev.Data.Raw) > 0 {
		if data, err := jsonvalue.Unmarshal(ev.Data.Raw); err == nil {
			v["data"] = data
		}
	}
	return v
}

// startWaitForEvent begins waiting for an event. A dry run resolves it at
// once from spec.simulatedEvents, or as a timeout.
func (a *advance) startWaitForEvent(idx int, cs *compiledStep, ss *v1alpha1.StepStatus) stepResult {
	w := cs.step.WaitForEvent
	if a.dryRun {
		if i, ev, ok := a.simulatedEvent(cs); ok {
			a.received(ss, ev, fmt.Sprintf("would wait for %s: simulated event %s arrived", joinTypes(w.Types), ev.ID), i)
		} else {
			a.succeed(ss, fmt.Sprintf("would wait for %s up to %s: timed out (no simulated event)", joinTypes(w.Types), w.Timeout),
				map[string]any{"received": false, "timedOut": true})
		}
		return a.following(idx)
	}
	ss.Phase = v1alpha1.StepWaiting
	deadline := a.eventDeadline(cs, ss)
	a.hold(deadline, a.eventWaitingFor(cs, deadline))
	return stepResult{hold: true}
}

func (a *advance) eventDeadline(cs *compiledStep, ss *v1alpha1.StepStatus) time.Time {
	return ss.StartTime.Add(cs.timeout)
}

func (a *advance) eventWaitingFor(cs *compiledStep, deadline time.Time) *v1alpha1.WaitingFor {
	types := make([]string, len(cs.step.WaitForEvent.Types))
	for i, t := range cs.step.WaitForEvent.Types {
		types[i] = string(t)
	}
	return &v1alpha1.WaitingFor{Reason: v1alpha1.WaitEvent, EventTypes: types,
		Message: truncate(fmt.Sprintf("%s for %s, timeout at %s", joinTypes(cs.step.WaitForEvent.Types), a.run.Spec.Subject, expr.FormatTime(deadline)), 1024)}
}

// simulatedEvent picks the first simulated event, in order, not used by an
// earlier step, that matches the step's types and filter.
func (a *advance) simulatedEvent(cs *compiledStep) (int, *v1alpha1.CloudEvent, bool) {
	used := map[int]bool{}
	for i := range a.st.Steps {
		ss := &a.st.Steps[i]
		if n, ok := decodeOutput(ss.Output)["simulatedEvent"].(float64); ok {
			used[int(n)] = true
		}
	}
	for i := range a.run.Spec.SimulatedEvents {
		ev := &a.run.Spec.SimulatedEvents[i]
		if !used[i] && a.eventMatches(cs, ev) {
			return i, ev, true
		}
	}
	return -1, nil, false
}
