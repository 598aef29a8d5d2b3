package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"

	"sigs.k8s.io/yaml"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/runner/cloudevents"
)

// readEventFile reads a CloudEvent in the CloudEvents JSON format
// (structured mode: specversion, id, source, type, subject, time,
// datacontenttype, data and extension attributes), as JSON or YAML.
func readEventFile(path string) (*v1alpha1.CloudEvent, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read event: %w", err)
	}
	ev, err := parseEvent(raw)
	if err != nil {
		return nil, fmt.Errorf("event %s: %w", path, err)
	}
	return ev, nil
}

// parseEvent decodes one structured-mode CloudEvent with the receiver's own
// codec, so an event file reads here exactly as intake would read it; the
// specversion may be left out (1.0).
func parseEvent(raw []byte) (*v1alpha1.CloudEvent, error) {
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("not JSON or YAML: %w", err)
	}
	var attrs map[string]json.RawMessage
	if err := json.Unmarshal(js, &attrs); err != nil {
		return nil, fmt.Errorf("not a CloudEvent object: %w", err)
	}
	if _, ok := attrs["specversion"]; !ok {
		attrs["specversion"] = json.RawMessage(`"` + cloudevents.SpecVersion + `"`)
		if js, err = json.Marshal(attrs); err != nil {
			return nil, fmt.Errorf("add specversion: %w", err)
		}
	}
	evs, err := cloudevents.Decode(http.Header{"Content-Type": {cloudevents.StructuredJSON}}, js, cloudevents.Limits{})
	if err != nil {
		return nil, err
	}
	return &evs[0], nil
}
