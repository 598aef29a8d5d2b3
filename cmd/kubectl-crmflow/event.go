package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/crmflow/crmflow/api/v1alpha1"
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

// parseEvent decodes one structured-mode CloudEvent.
func parseEvent(raw []byte) (*v1alpha1.CloudEvent, error) {
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("not JSON or YAML: %w", err)
	}
	var attrs map[string]json.RawMessage
	if err := json.Unmarshal(js, &attrs); err != nil {
		return nil, fmt.Errorf("not a CloudEvent object: %w", err)
	}
	ev := &v1alpha1.CloudEvent{}
	str := func(name string) (string, error) {
		v, ok := attrs[name]
		if !ok {
			return "", nil
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", fmt.Errorf("attribute %q must be a string", name)
		}
		return s, nil
	}
	if sv, err := str("specversion"); err != nil {
		return nil, err
	} else if sv != "" && sv != "1.0" {
		return nil, fmt.Errorf("specversion %q: only CloudEvents 1.0 is supported", sv)
	}
	for name, dst := range map[string]*string{"id": &ev.ID, "source": &ev.Source, "type": &ev.Type, "subject": &ev.Subject, "datacontenttype": &ev.DataContentType} {
		if *dst, err = str(name); err != nil {
			return nil, err
		}
	}
	for name, v := range map[string]string{"id": ev.ID, "source": ev.Source, "type": ev.Type} {
		if v == "" {
			return nil, fmt.Errorf("attribute %q is required", name)
		}
	}
	if t, err := str("time"); err != nil {
		return nil, err
	} else if t != "" {
		parsed, err := time.Parse(time.RFC3339Nano, t)
		if err != nil {
			return nil, fmt.Errorf("attribute \"time\" %q is not RFC 3339: %w", t, err)
		}
		mt := metav1.NewTime(parsed)
		ev.Time = &mt
	}
	if _, ok := attrs["data_base64"]; ok {
		return nil, fmt.Errorf("data_base64 is not supported: crmflow reads JSON data")
	}
	if d, ok := attrs["data"]; ok && string(d) != "null" {
		ev.Data = &runtime.RawExtension{Raw: d}
	}
	for name, v := range attrs {
		switch name {
		case "specversion", "id", "source", "type", "subject", "time", "datacontenttype", "data", "dataschema":
			continue
		}
		if ev.Extensions == nil {
			ev.Extensions = map[string]string{}
		}
		var s string
		if json.Unmarshal(v, &s) == nil {
			ev.Extensions[name] = s
			continue
		}
		var n json.Number
		if json.Unmarshal(v, &n) == nil {
			ev.Extensions[name] = n.String()
			continue
		}
		var b bool
		if json.Unmarshal(v, &b) == nil {
			ev.Extensions[name] = strconv.FormatBool(b)
			continue
		}
		return nil, fmt.Errorf("extension %q must be a string, number or boolean", name)
	}
	return ev, nil
}

// sortedKeys returns m's keys in order, for stable output.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
