package runner

import (
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/runner/schedule"
)

// Validate returns every problem of spec as field errors whose paths start
// at path (field.NewPath("spec") for a Workflow, field.NewPath("spec",
// "workflow") for a run's inline spec): every expression and template
// compiled and type-checked, cron and time zones, durations, Secret
// references, and the URLs and addresses that hold no template. It is the one validation of a spec: the admission webhook
// refuses what it reports, and the Workflow controller's Ready and Stalled
// conditions report the same.
func (e *Engine) Validate(spec *v1alpha1.WorkflowSpec, path *field.Path) field.ErrorList {
	errs := compileErrors(spec, path, e)
	reported := map[string]bool{}
	for _, fe := range errs {
		reported[fe.Field] = true
	}
	// The checks below are cheap and precise; when the engine already
	// reported a field, its message (with the CEL position) is kept alone.
	for _, fe := range append(append(append(
		validateSecretRefs(spec, path),
		validateTimes(spec, path)...),
		validateDurations(spec, path)...),
		validateLiterals(spec, path)...) {
		if !overlaps(reported, fe.Field) {
			errs = append(errs, fe)
			reported[fe.Field] = true
		}
	}
	return errs
}

// overlaps reports whether f, or a field containing it or contained in it,
// was reported already.
func overlaps(reported map[string]bool, f string) bool {
	for r := range reported {
		if r == f || strings.HasPrefix(f, r+".") || strings.HasPrefix(r, f+".") || strings.HasPrefix(f, r+"[") {
			return true
		}
	}
	return false
}

// compileErrors compiles spec with the engine and turns each problem into a
// field error at its exact path.
func compileErrors(spec *v1alpha1.WorkflowSpec, path *field.Path, e *Engine) field.ErrorList {
	_, err := e.Compile(spec)
	if err == nil {
		return nil
	}
	var ce *CompileError
	if !errors.As(err, &ce) {
		return field.ErrorList{field.InternalError(path, fmt.Errorf("compile workflow: %w", err))}
	}
	out := make(field.ErrorList, 0, len(ce.Problems))
	for _, p := range ce.Problems {
		out = append(out, &field.Error{
			Type:     field.ErrorTypeInvalid,
			Field:    rebase(p.Field, path),
			BadValue: field.OmitValueType{},
			Detail:   p.Message,
		})
	}
	return out
}

// rebase moves an engine path, which starts at "spec", under path.
func rebase(engineField string, path *field.Path) string {
	base := path.String()
	switch {
	case engineField == "" || engineField == "spec":
		return base
	case strings.HasPrefix(engineField, "spec."), strings.HasPrefix(engineField, "spec["):
		return base + engineField[len("spec"):]
	default:
		return base + "." + engineField
	}
}

// SecretRef is one Secret reference of a workflow spec.
type SecretRef struct {
	// Path is the field holding the reference.
	Path *field.Path
	// Name of the Secret; Key is empty for a whole-Secret reference.
	Name, Key string
}

// SecretRefs lists every Secret reference of spec, in spec order.
func SecretRefs(spec *v1alpha1.WorkflowSpec, path *field.Path) []SecretRef {
	var refs []SecretRef
	ref := func(p *field.Path, r *v1alpha1.SecretReference) {
		if r != nil {
			refs = append(refs, SecretRef{Path: p, Name: r.Name})
		}
	}
	sel := func(p *field.Path, s *v1alpha1.SecretKeySelector) {
		if s != nil {
			refs = append(refs, SecretRef{Path: p, Name: s.Name, Key: s.Key})
		}
	}
	headers := func(p *field.Path, hs []v1alpha1.HTTPHeader) {
		for j := range hs {
			sel(p.Index(j).Child("valueFrom"), hs[j].ValueFrom)
		}
	}
	if c := spec.Connections; c != nil {
		cp := path.Child("connections")
		if c.SMTP != nil {
			ref(cp.Child("smtp", "credentialsSecretRef"), c.SMTP.CredentialsSecretRef)
		}
		if c.SMS != nil {
			ref(cp.Child("sms", "credentialsSecretRef"), c.SMS.CredentialsSecretRef)
		}
		if c.CRM != nil {
			ref(cp.Child("crm", "credentialsSecretRef"), c.CRM.CredentialsSecretRef)
		}
		if c.Notify != nil {
			sel(cp.Child("notify", "webhookURLSecretRef"), &c.Notify.WebhookURLSecretRef)
		}
	}
	for i := range spec.Steps {
		s := &spec.Steps[i]
		sp := path.Child("steps").Index(i)
		switch {
		case s.Notify != nil:
			sel(sp.Child("notify", "webhookURLSecretRef"), s.Notify.WebhookURLSecretRef)
		case s.CallWebhook != nil:
			sel(sp.Child("callWebhook", "urlFrom"), s.CallWebhook.URLFrom)
			headers(sp.Child("callWebhook", "headers"), s.CallWebhook.Headers)
		case s.UpdateExternalCRM != nil:
			sel(sp.Child("updateExternalCRM", "urlFrom"), s.UpdateExternalCRM.URLFrom)
			headers(sp.Child("updateExternalCRM", "headers"), s.UpdateExternalCRM.Headers)
		case s.TriggerZapier != nil:
			sel(sp.Child("triggerZapier", "hookURLSecretRef"), &s.TriggerZapier.HookURLSecretRef)
		}
	}
	return refs
}

// validateSecretRefs checks what a reference without a namespace field still
// allows to get wrong: a "namespace/name" written into the name (credentials
// never cross namespaces), a name that is no Secret name, a key that is no
// Secret key.
func validateSecretRefs(spec *v1alpha1.WorkflowSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, r := range SecretRefs(spec, path) {
		np := r.Path.Child("name")
		if strings.Contains(r.Name, "/") {
			errs = append(errs, field.Invalid(np, r.Name,
				"Secrets are read from the workflow's own namespace only: name a Secret in this namespace, without a namespace prefix"))
		} else {
			for _, msg := range validation.IsDNS1123Subdomain(r.Name) {
				errs = append(errs, field.Invalid(np, r.Name, "not a Secret name: "+msg))
			}
		}
		if r.Key != "" {
			for _, msg := range validation.IsConfigMapKey(r.Key) {
				errs = append(errs, field.Invalid(r.Path.Child("key"), r.Key, "not a Secret key: "+msg))
			}
		}
	}
	return errs
}

// validateTimes checks the cron expression and every IANA time zone.
func validateTimes(spec *v1alpha1.WorkflowSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	zone := func(p *field.Path, tz string) bool {
		if _, err := schedule.LoadLocation(tz); err != nil {
			errs = append(errs, field.Invalid(p, tz, "unknown IANA time zone, e.g. Europe/Berlin or America/New_York"))
			return false
		}
		return true
	}
	tp := path.Child("trigger")
	if s := spec.Trigger.Schedule; s != nil {
		sp := tp.Child("schedule")
		tz := s.TimeZone
		if !zone(sp.Child("timeZone"), tz) {
			tz = ""
		}
		if _, err := schedule.Parse(s.Cron, tz); err != nil {
			errs = append(errs, field.Invalid(sp.Child("cron"), s.Cron, err.Error()))
		}
	}
	if d := spec.Trigger.DateField; d != nil {
		zone(tp.Child("dateField", "timeZone"), d.TimeZone)
	}
	for i := range spec.Conditions {
		if b := spec.Conditions[i].BusinessHours; b != nil {
			zone(path.Child("conditions").Index(i).Child("businessHours", "timeZone"), b.TimeZone)
		}
	}
	for i := range spec.Steps {
		if w := spec.Steps[i].Wait; w != nil && w.BusinessHours != nil {
			zone(path.Child("steps").Index(i).Child("wait", "businessHours", "timeZone"), w.BusinessHours.TimeZone)
		}
	}
	return errs
}

// validateDurations parses every duration (the schema checks only their
// shape) and checks the relations between them.
func validateDurations(spec *v1alpha1.WorkflowSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	parse := func(p *field.Path, d *v1alpha1.Duration, positive bool) {
		if d == nil {
			return
		}
		v, err := d.Parse()
		switch {
		case err != nil:
			errs = append(errs, field.Invalid(p, string(*d), err.Error()))
		case positive && v <= 0:
			errs = append(errs, field.Invalid(p, string(*d), "must be longer than zero"))
		}
	}
	retry := func(p *field.Path, r *v1alpha1.RetryPolicy) {
		if r == nil {
			return
		}
		parse(p.Child("initialBackoff"), r.InitialBackoff, true)
		parse(p.Child("maxBackoff"), r.MaxBackoff, true)
		if r.InitialBackoff != nil && r.MaxBackoff != nil {
			lo, err1 := r.InitialBackoff.Parse()
			hi, err2 := r.MaxBackoff.Parse()
			if err1 == nil && err2 == nil && hi < lo {
				errs = append(errs, field.Invalid(p.Child("maxBackoff"), string(*r.MaxBackoff),
					fmt.Sprintf("must not be shorter than initialBackoff (%s)", *r.InitialBackoff)))
			}
		}
	}
	if e := spec.Trigger.Event; e != nil {
		parse(path.Child("trigger", "event", "delay"), e.Delay, false)
	}
	if d := spec.Trigger.DateField; d != nil && d.Offset != "" {
		if _, err := d.Offset.Parse(); err != nil {
			errs = append(errs, field.Invalid(path.Child("trigger", "dateField", "offset"), string(d.Offset), err.Error()))
		}
	}
	retry(path.Child("retry"), spec.Retry)
	parse(path.Child("history", "ttlAfterFinished"), spec.History.TTLAfterFinished, false)
	for i := range spec.Steps {
		s := &spec.Steps[i]
		sp := path.Child("steps").Index(i)
		retry(sp.Child("retry"), s.Retry)
		parse(sp.Child("timeout"), s.Timeout, true)
		if s.Timeout != nil {
			if d, err := s.Timeout.Parse(); err == nil && d > v1alpha1.MaxStepTimeout {
				errs = append(errs, field.Invalid(sp.Child("timeout"), string(*s.Timeout),
					"must be at most 5m: one attempt holds a run worker for its whole length (use a wait or waitForEvent step to pause)"))
			}
		}
		switch {
		case s.Wait != nil:
			parse(sp.Child("wait", "duration"), s.Wait.Duration, false)
		case s.WaitForEvent != nil:
			t := s.WaitForEvent.Timeout
			parse(sp.Child("waitForEvent", "timeout"), &t, true)
		case s.CreateTask != nil:
			parse(sp.Child("createTask", "dueIn"), s.CreateTask.DueIn, false)
		}
	}
	return errs
}
