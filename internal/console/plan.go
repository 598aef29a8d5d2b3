package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/runner"
	"github.com/crmflow/crmflow/runner/jsonvalue"
)

// sampleEvent is a Test page event: its data is the JSON text the person
// typed, parsed here so that a typo gets a message naming the field.
type sampleEvent struct {
	Type    string `json:"type"`
	Subject string `json:"subject,omitempty"`
	Source  string `json:"source,omitempty"`
	// Data is JSON text (an object).
	Data string `json:"data"`
}

// planRequest is the body of POST /api/namespaces/{ns}/plan.
type planRequest struct {
	// Spec is the workflow as the builder holds it (saved or not).
	Spec *v1alpha1.WorkflowSpec `json:"spec"`
	// Event is the sample that triggers it.
	Event sampleEvent `json:"event"`
	// Replies answer the waitForEvent steps in order (a simulated reply).
	Replies []sampleEvent `json:"replies,omitempty"`
}

// conditionPlan is one evaluated condition, with the value its field holds
// in the sample (structured conditions).
type conditionPlan struct {
	v1alpha1.ConditionResult `json:",inline"`
	Field                    string `json:"field,omitempty"`
	Actual                   any    `json:"actual,omitempty"`
	HasActual                bool   `json:"hasActual"`
}

// planAnswer is what the engine would do; nothing was sent.
type planAnswer struct {
	Triggers   bool                     `json:"triggers"`
	Reason     string                   `json:"reason,omitempty"`
	Subject    string                   `json:"subject,omitempty"`
	Conditions []conditionPlan          `json:"conditions"`
	Steps      []v1alpha1.StepStatus    `json:"steps"`
	Phase      v1alpha1.RunPhase        `json:"phase,omitempty"`
	Result     v1alpha1.ConditionReason `json:"result,omitempty"`
	Message    string                   `json:"message,omitempty"`
}

// plan runs the engine's offline simulation (the dry run `kubectl crmflow
// test` uses) on a sample: conditions evaluated, templates rendered, waits
// skipped on a virtual clock, replies delivered in order. Nothing is sent,
// no Secret is read, nothing is written to the cluster.
//
// Only a signed-in caller gets here (signedIn; caller is checked again
// first). In the in-cluster console the plan never shows the manager's own
// CRM sink (--crm-sink-url): see managerSink.
func (s *Server) plan(w http.ResponseWriter, r *http.Request) error {
	if _, err := caller(r); err != nil {
		return err
	}
	var req planRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Spec == nil {
		return fieldError(http.StatusBadRequest, "spec", "the request holds no workflow spec")
	}
	hide := s.hideSink && usesManagerSink(req.Spec)
	if hide {
		if req.Spec.Connections == nil {
			req.Spec.Connections = &v1alpha1.Connections{}
		}
		if req.Spec.Connections.CRM == nil {
			req.Spec.Connections.CRM = &v1alpha1.CRMConnection{}
		}
		req.Spec.Connections.CRM.SinkURL = managerSinkStandIn
	}
	answer, err := s.simulate(r.Context(), &req)
	if err != nil {
		return err
	}
	if hide {
		answer.nameManagerSink()
	}
	return writeJSON(w, http.StatusOK, answer)
}

// simulate computes the plan of req.
func (s *Server) simulate(ctx context.Context, req *planRequest) (*planAnswer, error) {
	now := s.opts.Clock.Now()
	ev, err := req.Event.cloudEvent("event", "sample-1", now)
	if err != nil {
		return nil, err
	}
	var replies []v1alpha1.CloudEvent
	for i, rep := range req.Replies {
		if rep.Subject == "" {
			rep.Subject = ev.Subject
		}
		ce, err := rep.cloudEvent(fmt.Sprintf("replies[%d]", i), fmt.Sprintf("sample-reply-%d", i+1), now)
		if err != nil {
			return nil, err
		}
		replies = append(replies, *ce)
	}
	prog, err := s.opts.Engine.Compile(req.Spec)
	if err != nil {
		return nil, compileProblems(err)
	}
	answer := &planAnswer{Triggers: prog.Triggers(ev), Conditions: []conditionPlan{}, Steps: []v1alpha1.StepStatus{}}
	if !answer.Triggers {
		answer.Reason = fmt.Sprintf("an event of type %q does not trigger this workflow", ev.Type)
		return answer, nil
	}
	status, err := s.opts.Engine.Simulate(ctx, req.Spec, ev, replies, now)
	if err != nil {
		var ce *runner.CompileError
		if errors.As(err, &ce) {
			return nil, compileProblems(err)
		}
		answer.Reason = err.Error()
		return answer, nil
	}
	answer.Subject, _ = prog.Subject(ev, now)
	answer.Phase, answer.Result, answer.Message = status.Phase, status.Result, status.Message
	answer.Steps = append(answer.Steps, status.Steps...)
	data, _ := jsonvalue.UnmarshalObject([]byte(req.Event.Data)) // an id above 2^53 shown as it is
	for i, c := range status.ConditionResults {
		cp := conditionPlan{ConditionResult: c}
		if i < len(req.Spec.Conditions) && req.Spec.Conditions[i].Field != "" {
			cp.Field = req.Spec.Conditions[i].Field
			cp.Actual, cp.HasActual = lookup(data, cp.Field)
		}
		answer.Conditions = append(answer.Conditions, cp)
	}
	return answer, nil
}

// The in-cluster console's Test plans do not show the manager's CRM sink
// (--crm-sink-url, where contact and CRM commands go when a workflow names
// no sink of its own): it is the manager's configuration, which a person
// who may sign in need not be allowed to read. The simulated workflow gets
// managerSinkStandIn as its sink instead (so the engine never renders the
// real one), and the answer names it managerSinkName. A workflow's own
// connections.crm.sinkURL is shown as it is: the person wrote it.
const (
	// managerSinkStandIn is a URL that can name nothing (RFC 2606 .invalid).
	managerSinkStandIn = "https://crm-sink.crmflow.invalid/"
	// managerSinkName replaces managerSinkStandIn in the answer.
	managerSinkName = "the manager's CRM sink (--crm-sink-url)"
)

// usesManagerSink reports whether spec's commands go to the manager's sink.
func usesManagerSink(spec *v1alpha1.WorkflowSpec) bool {
	return spec.Connections == nil || spec.Connections.CRM == nil || spec.Connections.CRM.SinkURL == ""
}

// nameManagerSink replaces managerSinkStandIn by managerSinkName in the
// answer's messages and step outputs.
func (a *planAnswer) nameManagerSink() {
	a.Reason = strings.ReplaceAll(a.Reason, managerSinkStandIn, managerSinkName)
	a.Message = strings.ReplaceAll(a.Message, managerSinkStandIn, managerSinkName)
	for i := range a.Steps {
		st := &a.Steps[i]
		st.Message = strings.ReplaceAll(st.Message, managerSinkStandIn, managerSinkName)
		if st.Output != nil {
			st.Output = &runtime.RawExtension{Raw: bytes.ReplaceAll(st.Output.Raw, []byte(managerSinkStandIn), []byte(managerSinkName))}
		}
	}
}

// hasManagerSink reports whether engine sends the commands of a workflow
// that names no CRM sink somewhere (the manager's --crm-sink-url): it
// simulates one addTags step, which fails only for want of a sink. When in
// doubt it says yes, so that the sink is hidden.
func hasManagerSink(ctx context.Context, engine *runner.Engine, now time.Time) bool {
	spec := &v1alpha1.WorkflowSpec{
		Trigger: v1alpha1.Trigger{Event: &v1alpha1.EventTrigger{Types: []v1alpha1.EventType{"contact.created"}}},
		Steps:   []v1alpha1.Step{{Name: "probe", AddTags: &v1alpha1.TagsAction{Tags: []v1alpha1.Template{"probe"}}}},
	}
	t := metav1.NewTime(now)
	ev := &v1alpha1.CloudEvent{ID: "probe-1", Source: "crmflow-console", Type: "contact.created", Subject: "c-probe", Time: &t,
		DataContentType: "application/json", Data: &runtime.RawExtension{Raw: []byte(`{"contact":{"id":"c-probe"}}`)}}
	status, err := engine.Simulate(ctx, spec, ev, nil, now)
	if err != nil || len(status.Steps) == 0 {
		return true
	}
	return status.Steps[0].Phase != v1alpha1.StepFailed
}

// cloudEvent checks a sample and builds its CloudEvent; field prefixes the
// field names of its errors.
func (e sampleEvent) cloudEvent(field, id string, now time.Time) (*v1alpha1.CloudEvent, error) {
	if strings.TrimSpace(e.Type) == "" {
		return nil, fieldError(http.StatusBadRequest, field+".type", "an event type is required")
	}
	// jsonvalue, not a float64 round trip, so an id above 2^53 reaches the
	// simulated run as the sample holds it.
	data, err := jsonvalue.UnmarshalObject([]byte(e.Data))
	if err != nil {
		return nil, fieldError(http.StatusBadRequest, field+".data", "is not a JSON object: "+jsonProblem(e.Data, err))
	}
	raw, _ := json.Marshal(data)
	source := e.Source
	if source == "" {
		source = "crmflow-console"
	}
	t := metav1.NewTime(now)
	return &v1alpha1.CloudEvent{ID: id, Source: source, Type: e.Type, Subject: e.Subject, Time: &t,
		DataContentType: "application/json", Data: &runtime.RawExtension{Raw: raw}}, nil
}

// jsonProblem says where a JSON text is broken, as line:column.
func jsonProblem(text string, err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := 1, 1
		for _, ch := range text[:max(0, min(int(se.Offset)-1, len(text)))] { // Offset counts the offending byte
			if ch == '\n' {
				line, col = line+1, 1
			} else {
				col++
			}
		}
		return fmt.Sprintf("line %d, column %d: %s", line, col, se.Error())
	}
	return err.Error()
}

// compileProblems answers 422 with each engine problem on its field.
func compileProblems(err error) error {
	var ce *runner.CompileError
	if !errors.As(err, &ce) {
		return &apiError{status: http.StatusUnprocessableEntity, Message: err.Error()}
	}
	ae := &apiError{status: http.StatusUnprocessableEntity, Reason: string(metav1.StatusReasonInvalid), Message: "the workflow does not compile"}
	for _, p := range ce.Problems {
		ae.Fields = append(ae.Fields, fieldProblem{Field: p.Field, Message: p.Message})
	}
	return ae
}

// lookup reads a dotted path (contact.tags) from event data.
func lookup(data map[string]any, path string) (any, bool) {
	var cur any = data
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}
