package runner

import (
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/runner/actions"
)

// validateLiterals applies the actions' own input checks to the values that
// hold no template: such a value is the same at every run, so a run would
// fail on it every time. Templated values are checked when they render.
func validateLiterals(spec *v1alpha1.WorkflowSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	literal := func(t v1alpha1.Template) (string, bool) {
		s := string(t)
		return s, s != "" && !strings.Contains(s, "{{")
	}
	url := func(p *field.Path, t v1alpha1.Template) {
		if s, ok := literal(t); ok {
			if err := actions.CheckURL("url", s); err != nil {
				errs = append(errs, field.Invalid(p, s, err.Error()))
			}
		}
	}
	address := func(p *field.Path, name string, t v1alpha1.Template) {
		if s, ok := literal(t); ok {
			if err := actions.CheckAddress(name, s); err != nil {
				errs = append(errs, field.Invalid(p, s, err.Error()))
			}
		}
	}
	if c := spec.Connections; c != nil && c.SMTP != nil && c.SMTP.From != "" {
		address(path.Child("connections", "smtp", "from"), "from", v1alpha1.Template(c.SMTP.From))
	}
	for i := range spec.Steps {
		s, p := &spec.Steps[i], path.Child("steps").Index(i)
		if a := s.CallWebhook; a != nil {
			url(p.Child("callWebhook", "url"), a.URL)
		}
		if a := s.UpdateExternalCRM; a != nil {
			url(p.Child("updateExternalCRM", "url"), a.URL)
		}
		if a := s.SendEmail; a != nil {
			ep := p.Child("sendEmail")
			address(ep.Child("to"), "to", a.To)
			address(ep.Child("from"), "from", a.From)
			address(ep.Child("replyTo"), "replyTo", a.ReplyTo)
			for j, cc := range a.Cc {
				address(ep.Child("cc").Index(j), "cc", cc)
			}
			if strings.ContainsAny(string(a.Subject), "\r\n") {
				errs = append(errs, field.Invalid(ep.Child("subject"), string(a.Subject), "an email subject holds no line break"))
			}
		}
	}
	return errs
}
