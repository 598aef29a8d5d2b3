package v1alpha1

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestCRDDefaultsMatchDefault keeps the +kubebuilder:default markers (which
// cannot name a Go constant) equal to what WorkflowSpec.Default writes: every
// default in the generated Workflow CRD's spec schema must be the value
// Default gives a spec that holds every object with a defaulted field.
func TestCRDDefaultsMatchDefault(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "config", "crd", "bases", "crmflow.io_workflows.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var crd struct {
		Spec struct {
			Versions []struct {
				Schema struct {
					OpenAPIV3Schema map[string]any `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(raw, &crd); err != nil {
		t.Fatal(err)
	}
	if len(crd.Spec.Versions) != 1 {
		t.Fatalf("want one version in the CRD, have %d", len(crd.Spec.Versions))
	}
	schema := child(crd.Spec.Versions[0].Schema.OpenAPIV3Schema, "properties", "spec")

	spec := WorkflowSpec{
		Trigger:     Trigger{Schedule: &ScheduleTrigger{}, DateField: &DateFieldTrigger{}},
		Conditions:  []Condition{{BusinessHours: &BusinessHours{}}},
		Connections: &Connections{SMTP: &SMTPConnection{}, SMS: &SMSConnection{}},
		Steps: []Step{
			{Retry: &RetryPolicy{}, CallWebhook: &WebhookAction{}},
			{UpdateExternalCRM: &ExternalCRMAction{}},
			{CreateTicket: &CreateTicketAction{}},
			{End: &EndAction{}},
			{Wait: &WaitAction{BusinessHours: &BusinessHours{}}},
		},
	}
	spec.Default()
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	var value any
	if err := json.Unmarshal(b, &value); err != nil {
		t.Fatal(err)
	}

	all, seen := map[string]bool{}, map[string]bool{}
	collectDefaults(schema, "spec", all)
	if len(all) < 10 {
		t.Fatalf("found only %d defaults in the CRD; has its layout changed?", len(all))
	}
	var problems []string
	compareDefaults(schema, value, "spec", seen, &problems)
	for path := range all {
		if !seen[path] {
			problems = append(problems, fmt.Sprintf("%s has a CRD default the test's spec does not reach: add the object holding it", path))
		}
	}
	sort.Strings(problems)
	for _, p := range problems {
		t.Error(p)
	}
}

func child(schema map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		next, _ := schema[k].(map[string]any)
		schema = next
	}
	return schema
}

// collectDefaults records the path of every default in the schema.
func collectDefaults(schema map[string]any, path string, into map[string]bool) {
	if schema == nil {
		return
	}
	if _, ok := schema["default"]; ok {
		into[path] = true
	}
	props, _ := schema["properties"].(map[string]any)
	for name, sub := range props {
		s, _ := sub.(map[string]any)
		collectDefaults(s, path+"."+name, into)
	}
	if items, ok := schema["items"].(map[string]any); ok {
		collectDefaults(items, path+"[]", into)
	}
}

// compareDefaults walks the schema along the defaulted value and reports
// every default the value does not carry.
func compareDefaults(schema map[string]any, value any, path string, seen map[string]bool, problems *[]string) {
	if schema == nil || value == nil {
		return
	}
	if def, ok := schema["default"]; ok {
		seen[path] = true
		if !reflect.DeepEqual(def, value) {
			*problems = append(*problems, fmt.Sprintf("%s: the CRD defaults it to %v, WorkflowSpec.Default to %v", path, def, value))
		}
	}
	switch v := value.(type) {
	case map[string]any:
		props, _ := schema["properties"].(map[string]any)
		for name, sub := range props {
			s, _ := sub.(map[string]any)
			compareDefaults(s, v[name], path+"."+name, seen, problems)
		}
	case []any:
		items, _ := schema["items"].(map[string]any)
		for _, el := range v {
			compareDefaults(items, el, path+"[]", seen, problems)
		}
	}
}
