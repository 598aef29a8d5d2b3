package webhook

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/internal/catalogue"
)

// echoes maps a contact or CRM action to the catalogue event the CRM
// publishes once it carried the command out. A workflow triggered by that
// event, with such a step, re-triggers itself.
var echoes = []struct {
	action string
	event  v1alpha1.EventType
	has    func(*v1alpha1.Step) bool
}{
	{"updateContact", "contact.updated", func(s *v1alpha1.Step) bool { return s.UpdateContact != nil }},
	{"assignContact", "contact.updated", func(s *v1alpha1.Step) bool { return s.AssignContact != nil }},
	{"addTags", "contact.tag.added", func(s *v1alpha1.Step) bool { return s.AddTags != nil }},
	{"removeTags", "contact.tag.removed", func(s *v1alpha1.Step) bool { return s.RemoveTags != nil }},
	{"addToSegment", "contact.segment.added", func(s *v1alpha1.Step) bool { return s.AddToSegment != nil }},
	{"removeFromSegment", "contact.segment.removed", func(s *v1alpha1.Step) bool { return s.RemoveFromSegment != nil }},
	{"createLead", "lead.created", func(s *v1alpha1.Step) bool { return s.CreateLead != nil }},
	{"updateLeadStatus", "lead.status.changed", func(s *v1alpha1.Step) bool { return s.UpdateLeadStatus != nil }},
	{"createTicket", "ticket.created", func(s *v1alpha1.Step) bool { return s.CreateTicket != nil }},
	{"assignTicket", "ticket.status.changed", func(s *v1alpha1.Step) bool { return s.AssignTicket != nil }},
}

// commandActions are the steps delivered to the CRM sink as CloudEvents.
func isCommand(s *v1alpha1.Step) bool {
	for _, e := range echoes {
		if e.has(s) {
			return true
		}
	}
	return s.CreateTask != nil
}

// WorkflowWarnings returns admission warnings for a valid spec: likely loops,
// steps that can never run, and settings that surprise people. path is where
// the spec sits; crmSinkConfigured says whether the manager has a default CRM sink.
func WorkflowWarnings(spec *v1alpha1.WorkflowSpec, path *field.Path, crmSinkConfigured bool) []string {
	var out []string
	out = append(out, loopWarnings(spec, path)...)
	out = append(out, typoWarnings(spec, path)...)
	out = append(out, unreachableWarnings(spec, path)...)
	if spec.State == v1alpha1.WorkflowDraft {
		out = append(out, fmt.Sprintf("%s is Draft: events never trigger this workflow (dry-run test runs still work); set it to Active to enable it", path.Child("state")))
	}
	if !crmSinkConfigured && (spec.Connections == nil || spec.Connections.CRM == nil || spec.Connections.CRM.SinkURL == "") {
		for i := range spec.Steps {
			if isCommand(&spec.Steps[i]) {
				out = append(out, fmt.Sprintf("%s sends a CRM command but neither %s nor the manager's --crm-sink-url names a CRM sink: the step will fail",
					path.Child("steps").Index(i), path.Child("connections", "crm", "sinkURL")))
				break
			}
		}
	}
	return out
}

// typoWarnings names event types that are not in the event catalogue but
// one or two edits away from a catalogue type (ticket.create,
// Ticket.Created): nothing sends them, so the workflow would never fire, or
// never see the reply. Custom types far from every catalogue type are legal
// and get no warning.
func typoWarnings(spec *v1alpha1.WorkflowSpec, path *field.Path) []string {
	var out []string
	check := func(p *field.Path, types []v1alpha1.EventType) {
		for i, t := range types {
			if want, ok := catalogue.Suggest(string(t)); ok {
				out = append(out, fmt.Sprintf("%s: event type %q is not in the event catalogue (docs/events.md); did you mean %q? "+
					"A custom type is fine if your CRM sends it", p.Index(i), t, want))
			}
		}
	}
	trig := path.Child("trigger")
	switch t := &spec.Trigger; {
	case t.Event != nil:
		check(trig.Child("event", "types"), t.Event.Types)
	case t.DateField != nil:
		check(trig.Child("dateField", "types"), t.DateField.Types)
	}
	for i := range spec.ExitWhen {
		check(path.Child("exitWhen").Index(i).Child("types"), spec.ExitWhen[i].Types)
	}
	for i := range spec.Steps {
		if w := spec.Steps[i].WaitForEvent; w != nil {
			check(path.Child("steps").Index(i).Child("waitForEvent", "types"), w.Types)
		}
	}
	return out
}

// loopWarnings names every step whose command makes the CRM publish an event
// that triggers the same workflow.
func loopWarnings(spec *v1alpha1.WorkflowSpec, path *field.Path) []string {
	triggers := map[v1alpha1.EventType]bool{}
	for _, t := range spec.Trigger.EventTypes() {
		triggers[t] = true
	}
	var out []string
	for i := range spec.Steps {
		s := &spec.Steps[i]
		for _, e := range echoes {
			if e.has(s) && triggers[e.event] {
				out = append(out, fmt.Sprintf(
					"likely loop: %s (%s) makes the CRM emit %s, which triggers this workflow again; "+
						"add a condition that is false once the step has run (intake stops the chain after --max-hops hops and refuses the same workflow for the same subject twice in one chain)",
					path.Child("steps").Index(i).Child(e.action), s.Name, e.event))
			}
		}
	}
	return out
}

// unreachableWarnings names the steps no path reaches: typically steps after
// an unconditional end that no branch targets.
func unreachableWarnings(spec *v1alpha1.WorkflowSpec, path *field.Path) []string {
	reached := reachableSteps(spec.Steps)
	var out []string
	for i := range spec.Steps {
		if reached[i] {
			continue
		}
		why := "no branch targets it"
		if end := precedingEnd(spec.Steps, i); end >= 0 {
			why = fmt.Sprintf("it follows the end step %q and no branch targets it", spec.Steps[end].Name)
		}
		out = append(out, fmt.Sprintf("%s (%s) never runs: %s", path.Child("steps").Index(i), spec.Steps[i].Name, why))
	}
	return out
}

// reachableSteps walks the step graph from the first step: a step falls
// through to the next unless it is an unconditional end; a branch goes to
// then and to else (default the next step); a guarded step may be skipped,
// which falls through.
func reachableSteps(steps []v1alpha1.Step) []bool {
	index := make(map[string]int, len(steps))
	for i := range steps {
		s := &steps[i]
		index[s.Name] = i
	}
	reached := make([]bool, len(steps))
	queue := []int{0}
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		if i < 0 || i >= len(steps) || reached[i] {
			continue
		}
		reached[i] = true
		s := &steps[i]
		guarded := strings.TrimSpace(string(s.If)) != ""
		switch {
		case s.End != nil:
			if guarded {
				queue = append(queue, i+1)
			}
		case s.Branch != nil:
			if t, ok := index[s.Branch.Then]; ok {
				queue = append(queue, t)
			}
			if e, ok := index[s.Branch.Else]; ok && s.Branch.Else != "" {
				queue = append(queue, e)
			} else {
				queue = append(queue, i+1)
			}
			if guarded {
				queue = append(queue, i+1)
			}
		default:
			queue = append(queue, i+1)
		}
	}
	return reached
}

// precedingEnd returns the index of the nearest unconditional end step
// before i, or -1.
func precedingEnd(steps []v1alpha1.Step, i int) int {
	for j := i - 1; j >= 0; j-- {
		if steps[j].End != nil && strings.TrimSpace(string(steps[j].If)) == "" {
			return j
		}
	}
	return -1
}
