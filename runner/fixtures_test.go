package runner

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// sample loads a seed workflow from config/samples.
func sample(t testing.TB, name string) *v1alpha1.Workflow {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "config", "samples", "crmflow_v1alpha1_"+name+".yaml"))
	if err != nil {
		t.Fatalf("read sample %s: %v", name, err)
	}
	var wf v1alpha1.Workflow
	if err := yaml.UnmarshalStrict(raw, &wf); err != nil {
		t.Fatalf("parse sample %s: %v", name, err)
	}
	if wf.Namespace == "" {
		wf.Namespace = "sales"
	}
	return &wf
}

// eventOpt changes a test event.
type eventOpt func(*v1alpha1.CloudEvent)

// newEvent builds a CloudEvent with JSON data from a Go value.
func newEvent(typ string, data any, opts ...eventOpt) *v1alpha1.CloudEvent {
	raw, err := json.Marshal(data)
	if err != nil {
		panic(err)
	}
	ev := &v1alpha1.CloudEvent{ID: "ev-1", Source: "crm/test", Type: typ, Subject: "c-42",
		DataContentType: "application/json", Data: &runtime.RawExtension{Raw: raw}}
	for _, o := range opts {
		o(ev)
	}
	return ev
}

func withID(id string) eventOpt { return func(e *v1alpha1.CloudEvent) { e.ID = id } }

func withTime(t time.Time) eventOpt {
	return func(e *v1alpha1.CloudEvent) { mt := metav1.NewTime(t); e.Time = &mt }
}

func withSubject(s string) eventOpt { return func(e *v1alpha1.CloudEvent) { e.Subject = s } }

func withSource(s string) eventOpt { return func(e *v1alpha1.CloudEvent) { e.Source = s } }

// obj is shorthand for JSON objects in test data.
type obj = map[string]any
