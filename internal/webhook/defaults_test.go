package webhook

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/test/fixture"
)

// TestWorkflowDefaulter checks that the webhook writes the API defaults
// (v1alpha1.WorkflowSpec.Default).
func TestWorkflowDefaulter(t *testing.T) {
	g := NewWithT(t)
	wf := fixture.Workflow("wf", fixture.SetSchedule("0 9 * * *", ""), withSMTP("smtp"), fixture.AddSteps(
		v1alpha1.Step{Name: "call", Retry: &v1alpha1.RetryPolicy{Attempts: fixture.Int32(2)}, CallWebhook: &v1alpha1.WebhookAction{URL: "http://x"}},
		v1alpha1.Step{Name: "ticket", CreateTicket: &v1alpha1.CreateTicketAction{Title: "t"}},
		v1alpha1.Step{Name: "office", Wait: &v1alpha1.WaitAction{BusinessHours: &v1alpha1.BusinessHours{From: "09:00", To: "17:00"}}},
		v1alpha1.Step{Name: "stop", End: &v1alpha1.EndAction{}},
	))
	wf.Spec.State = ""
	wf.Spec.Retry = &v1alpha1.RetryPolicy{InitialBackoff: fixture.Duration("2s")}
	g.Expect((&WorkflowDefaulter{}).Default(context.Background(), wf)).To(Succeed())
	s := wf.Spec

	g.Expect(s.State).To(Equal(v1alpha1.WorkflowDraft))
	g.Expect(s.Enrollment).To(Equal(v1alpha1.EnrollmentPolicy{Reenroll: v1alpha1.ReenrollAfterExit, Concurrency: v1alpha1.ConcurrencyForbid}))
	g.Expect(*s.Retry.Attempts).To(Equal(int32(5)))
	g.Expect(*s.Retry.InitialBackoff).To(Equal(v1alpha1.Duration("2s")), "a value the user set is kept")
	g.Expect(*s.Retry.MaxBackoff).To(Equal(v1alpha1.Duration("5m")))
	g.Expect(*s.History.Limit).To(Equal(int32(50)))
	g.Expect(*s.History.TTLAfterFinished).To(Equal(v1alpha1.Duration("168h")))
	g.Expect(s.Trigger.Schedule.TimeZone).To(Equal("UTC"))
	g.Expect(s.Connections.SMTP.Port).To(Equal(int32(587)))
	g.Expect(s.Connections.SMTP.TLS).To(Equal(v1alpha1.SMTPStartTLS))

	call := s.Steps[1]
	g.Expect(call.CallWebhook.Method).To(Equal(v1alpha1.HTTPMethod("POST")))
	g.Expect(*call.Retry.Attempts).To(Equal(int32(2)), "the step's own attempts win")
	g.Expect(*call.Retry.InitialBackoff).To(Equal(v1alpha1.Duration("2s")), "the rest comes from the workflow's policy")
	g.Expect(call.Retry.InitialBackoff).NotTo(BeIdenticalTo(s.Retry.InitialBackoff), "no shared pointers")
	g.Expect(s.Steps[2].CreateTicket.Priority).To(Equal(v1alpha1.PriorityNormal))
	g.Expect(s.Steps[3].Wait.BusinessHours.Days).To(HaveLen(5))
	g.Expect(s.Steps[3].Wait.BusinessHours.TimeZone).To(Equal("UTC"))
	g.Expect(s.Steps[4].End.Result).To(Equal(v1alpha1.EndSucceeded))
	g.Expect(s.Steps[0].Retry).To(BeNil(), "a step without its own policy keeps using the workflow's")

	again := *s.DeepCopy()
	again.Default()
	g.Expect(equality.Semantic.DeepEqual(again, s)).To(BeTrue(), "defaulting is idempotent")
}

func TestDefaultKeepsActive(t *testing.T) {
	g := NewWithT(t)
	wf := fixture.MustSample(t, "vip-routing")
	wf.Spec.Default()
	g.Expect(wf.Spec.State).To(Equal(v1alpha1.WorkflowActive))
	g.Expect(wf.Spec.Enrollment.Reenroll).To(Equal(v1alpha1.ReenrollAlways))
}
