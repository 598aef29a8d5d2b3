package runner

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/runner/actions"
	"github.com/crmflow/crmflow/runner/expr"
	"github.com/crmflow/crmflow/runner/template"
	"github.com/crmflow/crmflow/test/fixture"
)

// Each benchmark has an "engine" and a "go" sub-benchmark: the same work
// done by crmflow's engine and by hand-written Go, measured in one run so
// the overhead ratio can be stated (see docs/expressions.md).

func seedConditionEvents() map[string]*v1alpha1.CloudEvent {
	return map[string]*v1alpha1.CloudEvent{
		"vip-routing": fixture.Event("conversation.started", obj{"conversation": obj{"contactId": "c-42", "channel": "chat"},
			"contact": obj{"id": "c-42", "firstName": "Ann", "tags": []string{"Gold", "VIP"}}}),
		"lead-follow-up": fixture.Event("lead.created", obj{"lead": obj{"id": "l-1", "contactId": "c-42", "source": "Website"},
			"contact": obj{"email": "ann@example.com"}}),
		"negative-sentiment": fixture.Event("message.received", obj{"message": obj{"id": "m-1", "contactId": "c-42", "text": "bad",
			"sentiment": obj{"score": 0.12}}}),
	}
}

// goSeedCondition is the hand-written equivalent of a seed's condition,
// including decoding the event data as the engine does.
func goSeedCondition(name string, raw []byte) bool {
	var data map[string]any
	if json.Unmarshal(raw, &data) != nil {
		return false
	}
	get := func(path ...string) (any, bool) {
		var cur any = data
		for _, p := range path {
			m, ok := cur.(map[string]any)
			if !ok {
				return nil, false
			}
			if cur, ok = m[p]; !ok {
				return nil, false
			}
		}
		return cur, true
	}
	switch name {
	case "vip-routing":
		tags, _ := get("contact", "tags")
		list, _ := tags.([]any)
		return slices.Contains(list, any("VIP"))
	case "lead-follow-up":
		s, _ := get("lead", "source")
		return s == "Website"
	default:
		s, _ := get("message", "sentiment", "score")
		f, ok := s.(float64)
		return ok && f < 0.3
	}
}

func BenchmarkSeedConditions(b *testing.B) {
	e := New(Options{})
	for name, ev := range seedConditionEvents() {
		p, err := e.Compile(&fixture.MustSample(b, name).Spec)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name+"/engine", func(b *testing.B) {
			for b.Loop() {
				if en, err := p.Evaluate(ev, t0); err != nil || !en.Enroll {
					b.Fatalf("not enrolled: %v %s", err, en.Message)
				}
			}
		})
		b.Run(name+"/go", func(b *testing.B) {
			for b.Loop() {
				if !goSeedCondition(name, ev.Data.Raw) {
					b.Fatal("not enrolled")
				}
			}
		})
	}
}

// nopExecutor accepts every request.
type nopExecutor struct{}

func (nopExecutor) Execute(context.Context, actions.Request) (actions.Result, error) {
	return actions.Result{Message: "ok"}, nil
}

func tenStepSpec() *v1alpha1.WorkflowSpec {
	var steps []v1alpha1.Step
	for _, n := range []string{"s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9"} {
		steps = append(steps, v1alpha1.Step{Name: n, AddTags: &v1alpha1.TagsAction{Tags: []v1alpha1.Template{"{{ lead.source }}-" + v1alpha1.Template(n)}}})
	}
	return eventSpec(steps...)
}

func BenchmarkAdvanceTenInstantSteps(b *testing.B) {
	e := New(Options{Executor: nopExecutor{}})
	spec := tenStepSpec()
	base := newRun(spec)
	b.Run("engine", func(b *testing.B) {
		for b.Loop() {
			out, err := e.Advance(context.Background(), Input{Run: base, Now: t0})
			if err != nil || out.Status.Phase != v1alpha1.RunSucceeded {
				b.Fatalf("advance: %v %s", err, out.Status.Message)
			}
		}
	})
	b.Run("go", func(b *testing.B) {
		exec := nopExecutor{}
		for b.Loop() {
			// The hand-written equivalent: decode the event, then for each
			// step build the command, execute it and log the step.
			var data map[string]map[string]any
			if err := json.Unmarshal(base.Spec.Event.Data.Raw, &data); err != nil {
				b.Fatal(err)
			}
			source, _ := data["lead"]["source"].(string)
			var log []v1alpha1.StepStatus
			for i := range spec.Steps {
				s := &spec.Steps[i]
				key := string(base.UID) + "/" + s.Name
				req := actions.Request{Kind: actions.KindAddTags, Origin: actions.Origin{Namespace: base.Namespace, Workflow: base.Spec.WorkflowName,
					Run: base.Name, Step: s.Name, Subject: base.Spec.Subject, IdempotencyKey: key},
					Command: &actions.Command{SinkURL: spec.Connections.CRM.SinkURL, Type: actions.CommandContactTagsAdd, Subject: base.Spec.Subject,
						Data: map[string]any{"contactId": base.Spec.Subject, "tags": []string{source + "-" + s.Name}}}}
				res, err := exec.Execute(context.Background(), req)
				if err != nil {
					b.Fatal(err)
				}
				log = append(log, v1alpha1.StepStatus{Name: s.Name, Phase: v1alpha1.StepSucceeded, Attempts: 1, IdempotencyKey: key, Message: res.Message})
			}
			if len(log) != 10 {
				b.Fatal("steps missing")
			}
		}
	})
}

func BenchmarkRenderTemplate(b *testing.B) {
	env, err := expr.NewEnv(0)
	if err != nil {
		b.Fatal(err)
	}
	const src = "Hi {{ contact.firstName }}, your lead {{ lead.id }} from {{ lead.source }} scored {{ lead.score }}."
	tmpl, err := template.Compile(env, src)
	if err != nil {
		b.Fatal(err)
	}
	contact := map[string]any{"firstName": "Ann"}
	lead := map[string]any{"id": "l-1", "source": "Website", "score": 42.0}
	vars := expr.With(map[string]any{"contact": contact, "lead": lead}, "c-42", t0, nil)
	want := "Hi Ann, your lead l-1 from Website scored 42."
	b.Run("engine", func(b *testing.B) {
		for b.Loop() {
			if s, err := tmpl.Render(vars); err != nil || s != want {
				b.Fatalf("%q %v", s, err)
			}
		}
	})
	b.Run("go", func(b *testing.B) {
		for b.Loop() {
			var sb strings.Builder
			sb.WriteString("Hi ")
			sb.WriteString(expr.StringifyNative(contact["firstName"]))
			sb.WriteString(", your lead ")
			sb.WriteString(expr.StringifyNative(lead["id"]))
			sb.WriteString(" from ")
			sb.WriteString(expr.StringifyNative(lead["source"]))
			sb.WriteString(" scored ")
			sb.WriteString(expr.StringifyNative(lead["score"]))
			sb.WriteString(".")
			if sb.String() != want {
				b.Fatal(sb.String())
			}
		}
	})
}
