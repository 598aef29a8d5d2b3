package runner

import (
	"errors"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/test/fixture"
)

func eventSpec(steps ...v1alpha1.Step) *v1alpha1.WorkflowSpec {
	return &v1alpha1.WorkflowSpec{
		Trigger: v1alpha1.Trigger{Event: &v1alpha1.EventTrigger{Types: []v1alpha1.EventType{"lead.created"}}},
		Steps:   steps,
		Connections: &v1alpha1.Connections{
			SMTP:   &v1alpha1.SMTPConnection{Host: "127.0.0.1", Port: 25, From: "crm@example.com", TLS: v1alpha1.SMTPNone},
			SMS:    &v1alpha1.SMSConnection{URL: "http://127.0.0.1/sms"},
			CRM:    &v1alpha1.CRMConnection{SinkURL: "http://127.0.0.1/sink"},
			Notify: &v1alpha1.NotifyConnection{WebhookURLSecretRef: v1alpha1.SecretKeySelector{Name: "hooks", Key: "notify"}},
		},
	}
}

func jsonValue(s string) *apiextensionsv1.JSON { return &apiextensionsv1.JSON{Raw: []byte(s)} }

func TestCompileProblems(t *testing.T) {
	email := func(subject string) v1alpha1.Step {
		return v1alpha1.Step{Name: "mail", SendEmail: &v1alpha1.SendEmailAction{To: "a@b.c", Subject: v1alpha1.Template(subject), Body: "x"}}
	}
	cases := []struct {
		name   string
		mutate func(*v1alpha1.WorkflowSpec)
		want   []Problem
	}{
		{"CEL type error in a condition", func(s *v1alpha1.WorkflowSpec) {
			s.Conditions = []v1alpha1.Condition{{Expression: `lead.source == "x"`}, {Expression: `subject + 1 > 2`}}
		}, []Problem{{"spec.conditions[1].expression", "1:9: found no matching overload for '_+_' applied to '(string, int)'"}}},
		{"condition that is not bool", func(s *v1alpha1.WorkflowSpec) {
			s.Conditions = []v1alpha1.Condition{{Expression: `subject`}}
		}, []Problem{{"spec.conditions[0].expression", "1:1: expression must yield a bool, not string"}}},
		{"template error with position in the field", func(s *v1alpha1.WorkflowSpec) {
			s.Steps = append(s.Steps, email("Hello {{ now + 1 }}"))
		}, []Problem{{"spec.steps[1].sendEmail.subject", "1:14: found no matching overload for '_+_' applied to '(timestamp, int)'"}}},
		{"unterminated template", func(s *v1alpha1.WorkflowSpec) {
			s.Steps = append(s.Steps, email("Hello {{ contact.firstName"))
		}, []Problem{{"spec.steps[1].sendEmail.subject", "1:7: unterminated {{: missing }}"}}},
		{"LessThan needs a number", func(s *v1alpha1.WorkflowSpec) {
			s.Conditions = []v1alpha1.Condition{{Field: "message.score", Operator: v1alpha1.OperatorLessThan, Value: jsonValue(`"low"`)}}
		}, []Problem{{"spec.conditions[0].value", "LessThan needs a number"}}},
		{"Before needs RFC 3339", func(s *v1alpha1.WorkflowSpec) {
			s.Conditions = []v1alpha1.Condition{{Field: "lead.createdAt", Operator: v1alpha1.OperatorBefore, Value: jsonValue(`"yesterday"`)}}
		}, []Problem{{"spec.conditions[0].value", `Before needs an RFC 3339 time, got "yesterday"`}}},
		{"value required", func(s *v1alpha1.WorkflowSpec) {
			s.Conditions = []v1alpha1.Condition{{Field: "lead.source", Operator: v1alpha1.OperatorEquals}}
		}, []Problem{{"spec.conditions[0].value", "Equals needs a value"}}},
		{"Exists takes no value", func(s *v1alpha1.WorkflowSpec) {
			s.Conditions = []v1alpha1.Condition{{Field: "lead.source", Operator: v1alpha1.OperatorExists, Value: jsonValue(`1`)}}
		}, []Problem{{"spec.conditions[0].value", "Exists takes no value"}}},
		{"In needs a list", func(s *v1alpha1.WorkflowSpec) {
			s.Conditions = []v1alpha1.Condition{{Field: "lead.source", Operator: v1alpha1.OperatorIn, Value: jsonValue(`"Web"`)}}
		}, []Problem{{"spec.conditions[0].value", "In needs a list"}}},
		{"bad regular expression", func(s *v1alpha1.WorkflowSpec) {
			s.Conditions = []v1alpha1.Condition{{Field: "lead.source", Operator: v1alpha1.OperatorMatches, Value: jsonValue(`"(["`)}}
		}, []Problem{{"spec.conditions[0].value", "invalid regular expression: error parsing regexp: missing closing ]: `[`"}}},
		{"unknown time zone", func(s *v1alpha1.WorkflowSpec) {
			s.Conditions = []v1alpha1.Condition{{BusinessHours: &v1alpha1.BusinessHours{TimeZone: "Mars/Olympus", From: "09:00", To: "17:00"}}}
		}, []Problem{{"spec.conditions[0].businessHours", `unknown time zone "Mars/Olympus"`}}},
		{"branch to a missing step", func(s *v1alpha1.WorkflowSpec) {
			s.Steps = append(s.Steps, v1alpha1.Step{Name: "b", Branch: &v1alpha1.BranchAction{If: "true", Then: "nowhere"}})
		}, []Problem{{"spec.steps[1].branch.then", `no step named "nowhere"`}}},
		{"duplicate step", func(s *v1alpha1.WorkflowSpec) {
			s.Steps = append(s.Steps, v1alpha1.Step{Name: "done", End: &v1alpha1.EndAction{}})
		}, []Problem{{"spec.steps[1].name", `duplicate step name "done"`}}},
		{"email without smtp", func(s *v1alpha1.WorkflowSpec) {
			s.Connections.SMTP = nil
			s.Steps = append(s.Steps, email("hi"))
		}, []Problem{{"spec.steps[1].sendEmail", "needs spec.connections.smtp"}}},
		{"webhook body is not JSON", func(s *v1alpha1.WorkflowSpec) {
			s.Steps = append(s.Steps, v1alpha1.Step{Name: "hook", CallWebhook: &v1alpha1.WebhookAction{URL: "http://x", Body: `{"a": {{ lead.id }`}})
		}, []Problem{{"spec.steps[1].callWebhook.body", "1:7: unterminated {{: missing }}"}}},
		{"guard and until type errors", func(s *v1alpha1.WorkflowSpec) {
			s.Steps = append(s.Steps, v1alpha1.Step{Name: "w", If: `lead.x ==`, Wait: &v1alpha1.WaitAction{Until: "1 + 1"}})
		}, []Problem{
			{"spec.steps[1].if", "1:10: Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}"},
			{"spec.steps[1].wait.until", "1:1: expression must yield a timestamp, not int"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			spec := eventSpec(v1alpha1.Step{Name: "done", End: &v1alpha1.EndAction{}})
			tc.mutate(spec)
			_, err := New(Options{}).Compile(spec)
			var ce *CompileError
			g.Expect(errors.As(err, &ce)).To(BeTrue(), "error %v", err)
			g.Expect(ce.Problems).To(Equal(tc.want))
		})
	}
}

func TestCompileCachesByContent(t *testing.T) {
	g := NewWithT(t)
	e := New(Options{})
	a, err := e.Compile(&fixture.MustSample(t, "vip-routing").Spec)
	g.Expect(err).NotTo(HaveOccurred())
	b, err := e.Compile(&fixture.MustSample(t, "vip-routing").Spec)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(b).To(BeIdenticalTo(a))
	other := fixture.MustSample(t, "vip-routing")
	other.Spec.Description = "changed"
	c, err := e.Compile(&other.Spec)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(c).NotTo(BeIdenticalTo(a))
}

func TestInterested(t *testing.T) {
	wf := fixture.MustSample(t, "lead-follow-up")
	run := &v1alpha1.WorkflowRun{Spec: v1alpha1.WorkflowRunSpec{Workflow: wf.Spec.DeepCopy()}}
	run.Status.Phase = v1alpha1.RunWaiting
	run.Status.CurrentStep = "settle"
	run.Status.Steps = []v1alpha1.StepStatus{{Name: "settle", Phase: v1alpha1.StepWaiting}}
	g := NewWithT(t)
	g.Expect(Interested(run, run.Spec.Workflow, fixture.Event("message.received", obj{}))).To(BeFalse())
	g.Expect(Interested(run, run.Spec.Workflow, fixture.Event("lead.status.changed", obj{}))).To(BeTrue())
	run.Status.CurrentStep = "await-reply"
	run.Status.Steps = append(run.Status.Steps, v1alpha1.StepStatus{Name: "await-reply", Phase: v1alpha1.StepWaiting})
	g.Expect(Interested(run, run.Spec.Workflow, fixture.Event("message.received", obj{}))).To(BeTrue())
	g.Expect(Interested(run, run.Spec.Workflow, fixture.Event("ticket.created", obj{}))).To(BeFalse())
	run.Status.Phase = v1alpha1.RunSucceeded
	g.Expect(Interested(run, run.Spec.Workflow, fixture.Event("message.received", obj{}))).To(BeFalse())
}

func TestListensTo(t *testing.T) {
	g := NewWithT(t)
	spec := eventSpec(eventStep("await", "message.received", "1d", ""))
	spec.ExitWhen = []v1alpha1.ExitGoal{{Types: []v1alpha1.EventType{"lead.status.changed"}}}
	g.Expect(ListensTo(spec, "message.received")).To(BeTrue(), "a waitForEvent step")
	g.Expect(ListensTo(spec, "lead.status.changed")).To(BeTrue(), "an exit goal")
	g.Expect(ListensTo(spec, "lead.created")).To(BeFalse())
	g.Expect(ListensTo(nil, "lead.created")).To(BeFalse())
}

func TestCompileBoundsTemplateExpressions(t *testing.T) {
	e := New(Options{})
	spec := func(n int) *v1alpha1.WorkflowSpec {
		return &v1alpha1.WorkflowSpec{
			Trigger:     v1alpha1.Trigger{Event: &v1alpha1.EventTrigger{Types: []v1alpha1.EventType{"contact.created"}}},
			Connections: &v1alpha1.Connections{Notify: &v1alpha1.NotifyConnection{WebhookURLSecretRef: v1alpha1.SecretKeySelector{Name: "n", Key: "k"}}},
			Steps: []v1alpha1.Step{{Name: "tell", Notify: &v1alpha1.NotifyAction{
				Message: v1alpha1.Template(strings.Repeat("{{ subject }} ", n))}}},
		}
	}
	if _, err := e.Compile(spec(MaxTemplateExpressions)); err != nil {
		t.Fatalf("%d expressions refused: %v", MaxTemplateExpressions, err)
	}
	_, err := e.Compile(spec(MaxTemplateExpressions + 1))
	var ce *CompileError
	if !errors.As(err, &ce) || len(ce.Problems) != 1 || ce.Problems[0].Field != "spec" ||
		!strings.Contains(ce.Problems[0].Message, "holds 1001 {{ }} template expressions; the limit is 1000") {
		t.Fatalf("want one problem at spec naming the limit, got %v", err)
	}
}
