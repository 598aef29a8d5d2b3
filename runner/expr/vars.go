package expr

import (
	"fmt"
	"time"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/runner/jsonvalue"
)

// EventVars returns the variables an event provides: event (its attributes:
// id, source, type, subject, time, datacontenttype, extensions), data, and
// the entity maps contact, lead, ticket, conversation, message and
// appointment (empty maps when data lacks them, so has() works). ev may be nil.
func EventVars(ev *v1alpha1.CloudEvent) (map[string]any, error) {
	vars := map[string]any{}
	attrs := map[string]any{"time": nil}
	var data any = map[string]any{}
	if ev != nil {
		attrs = EventAttributes(ev)
		if ev.Data != nil && len(ev.Data.Raw) > 0 {
			d, err := jsonvalue.Unmarshal(ev.Data.Raw) // integers above 2^53 stay exact
			if err != nil {
				return nil, fmt.Errorf("event %s data is not JSON: %w", ev.ID, err)
			}
			data = d
		}
	}
	vars[VarEvent] = attrs
	vars[VarData] = data
	obj, _ := data.(map[string]any)
	for _, n := range EntityNames {
		m, ok := obj[n].(map[string]any)
		if !ok {
			m = map[string]any{}
		}
		vars[n] = m
	}
	return vars, nil
}

// EventAttributes is the event variable: the CloudEvent's attributes.
func EventAttributes(ev *v1alpha1.CloudEvent) map[string]any {
	ext := map[string]any{}
	for k, v := range ev.Extensions {
		ext[k] = v
	}
	attrs := map[string]any{
		"id":              ev.ID,
		"source":          ev.Source,
		"type":            ev.Type,
		"subject":         ev.Subject,
		"datacontenttype": ev.DataContentType,
		"extensions":      ext,
	}
	// time is optional in CloudEvents: without one it is null, which
	// templates write as "", rather than a missing key that fails the run.
	attrs["time"] = nil
	if ev.Time != nil {
		attrs["time"] = ev.Time.Time
	}
	return attrs
}

// With returns a copy of base with the run-level variables set.
func With(base map[string]any, subject string, now time.Time, extra map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(extra)+2)
	for k, v := range base {
		out[k] = v
	}
	out[VarSubject] = subject
	out[VarNow] = now
	for k, v := range extra {
		out[k] = v
	}
	for _, k := range []string{VarSteps, VarRun, VarWorkflow} {
		if _, ok := out[k]; !ok {
			out[k] = map[string]any{}
		}
	}
	return out
}
