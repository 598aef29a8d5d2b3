package console

import (
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
func (s *Server) plan(w http.ResponseWriter, r *http.Request) error {
	var req planRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Spec == nil {
		return fieldError(http.StatusBadRequest, "spec", "the request holds no workflow spec")
	}
	now := s.opts.Clock.Now()
	ev, err := req.Event.cloudEvent("event", "sample-1", now)
	if err != nil {
		return err
	}
	var replies []v1alpha1.CloudEvent
	for i, rep := range req.Replies {
		if rep.Subject == "" {
			rep.Subject = ev.Subject
		}
		ce, err := rep.cloudEvent(fmt.Sprintf("replies[%d]", i), fmt.Sprintf("sample-reply-%d", i+1), now)
		if err != nil {
			return err
		}
		replies = append(replies, *ce)
	}
	prog, err := s.opts.Engine.Compile(req.Spec)
	if err != nil {
		return compileProblems(err)
	}
	answer := planAnswer{Triggers: prog.Triggers(ev), Conditions: []conditionPlan{}, Steps: []v1alpha1.StepStatus{}}
	if !answer.Triggers {
		answer.Reason = fmt.Sprintf("an event of type %q does not trigger this workflow", ev.Type)
		return writeJSON(w, http.StatusOK, answer)
	}
	status, err := s.opts.Engine.Simulate(r.Context(), req.Spec, ev, replies, now)
	if err != nil {
		var ce *runner.CompileError
		if errors.As(err, &ce) {
			return compileProblems(err)
		}
		answer.Reason = err.Error()
		return writeJSON(w, http.StatusOK, answer)
	}
	answer.Subject, _ = prog.Subject(ev, now)
	answer.Phase, answer.Result, answer.Message = status.Phase, status.Result, status.Message
	answer.Steps = append(answer.Steps, status.Steps...)
	data := map[string]any{}
	_ = json.Unmarshal([]byte(req.Event.Data), &data)
	for i, c := range status.ConditionResults {
		cp := conditionPlan{ConditionResult: c}
		if i < len(req.Spec.Conditions) && req.Spec.Conditions[i].Field != "" {
			cp.Field = req.Spec.Conditions[i].Field
			cp.Actual, cp.HasActual = lookup(data, cp.Field)
		}
		answer.Conditions = append(answer.Conditions, cp)
	}
	return writeJSON(w, http.StatusOK, answer)
}

// cloudEvent checks a sample and builds its CloudEvent; field prefixes the
// field names of its errors.
func (e sampleEvent) cloudEvent(field, id string, now time.Time) (*v1alpha1.CloudEvent, error) {
	if strings.TrimSpace(e.Type) == "" {
		return nil, fieldError(http.StatusBadRequest, field+".type", "an event type is required")
	}
	var data map[string]any
	if err := json.Unmarshal([]byte(e.Data), &data); err != nil {
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
