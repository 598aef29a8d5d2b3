package webhook

import (
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// sample reads a workflow from config/samples by its short name.
func sample(t interface {
	Helper()
	Fatalf(string, ...any)
}, name string) *v1alpha1.Workflow {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "config", "samples", "crmflow_v1alpha1_"+name+".yaml"))
	if err != nil {
		t.Fatalf("read sample %s: %v", name, err)
	}
	var wf v1alpha1.Workflow
	if err := yaml.UnmarshalStrict(raw, &wf); err != nil {
		t.Fatalf("parse sample %s: %v", name, err)
	}
	return &wf
}

// workflowOption changes a fixture workflow.
type workflowOption func(*v1alpha1.WorkflowSpec)

// workflow builds a small valid Active workflow triggered by lead.created,
// with a notify connection and one notify step, then applies opts.
func workflow(opts ...workflowOption) *v1alpha1.Workflow {
	wf := &v1alpha1.Workflow{}
	wf.Name, wf.Namespace = "wf", "sales"
	wf.Spec = v1alpha1.WorkflowSpec{
		State:   v1alpha1.WorkflowActive,
		Trigger: v1alpha1.Trigger{Event: &v1alpha1.EventTrigger{Types: []v1alpha1.EventType{"lead.created"}}},
		Connections: &v1alpha1.Connections{
			Notify: &v1alpha1.NotifyConnection{WebhookURLSecretRef: v1alpha1.SecretKeySelector{Name: "hooks", Key: "sales"}},
		},
		Steps: []v1alpha1.Step{{Name: "tell-sales", Notify: &v1alpha1.NotifyAction{Message: "new lead {{ lead.id }}"}}},
	}
	for _, o := range opts {
		o(&wf.Spec)
	}
	return wf
}

// withSteps appends steps.
func withSteps(steps ...v1alpha1.Step) workflowOption {
	return func(s *v1alpha1.WorkflowSpec) { s.Steps = append(s.Steps, steps...) }
}

// withTrigger replaces the trigger's event types.
func withTrigger(types ...v1alpha1.EventType) workflowOption {
	return func(s *v1alpha1.WorkflowSpec) { s.Trigger.Event.Types = types }
}

// withSchedule replaces the trigger with a schedule.
func withSchedule(cron, tz string) workflowOption {
	return func(s *v1alpha1.WorkflowSpec) {
		s.Trigger = v1alpha1.Trigger{Schedule: &v1alpha1.ScheduleTrigger{Cron: cron, TimeZone: tz}}
	}
}

// withSMTP adds an SMTP connection with a credentials Secret.
func withSMTP(secret string) workflowOption {
	return func(s *v1alpha1.WorkflowSpec) {
		s.Connections.SMTP = &v1alpha1.SMTPConnection{Host: "smtp.example.com", From: "a@example.com",
			CredentialsSecretRef: &v1alpha1.SecretReference{Name: secret}}
	}
}

func dur(s string) *v1alpha1.Duration {
	d := v1alpha1.Duration(s)
	return &d
}

func i32(n int32) *int32 { return &n }
