package runner

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/runner/actions"
	"github.com/crmflow/crmflow/runner/expr"
	"github.com/crmflow/crmflow/runner/template"
)

// renderer renders one step's templates, keeping the first error.
type renderer struct {
	cs   *compiledStep
	vars map[string]any
	err  error
}

func (r *renderer) fail(path string, err error) {
	if r.err == nil {
		r.err = fmt.Errorf("render %s: %w", path, err)
	}
}

// str renders the template at path ("" when the field is empty).
func (r *renderer) str(path string) string {
	t := r.cs.templates[path]
	if t == nil {
		return ""
	}
	s, err := t.Render(r.vars)
	if err != nil {
		r.fail(path, err)
	}
	return s
}

// strOr renders path, or def (a default template such as {{ lead.id }}) when the field is empty.
func (r *renderer) strOr(path string, def *template.Template) string {
	if r.cs.templates[path] != nil {
		return r.str(path)
	}
	s, err := def.Render(r.vars)
	if err != nil {
		r.fail(path, fmt.Errorf("default %s: %w", def.Source(), err))
	}
	return s
}

// fields renders a map of templates; a value that is a single {{ expr }} keeps its type.
func (r *renderer) fields(prefix string, m map[string]v1alpha1.Template) map[string]any {
	out := make(map[string]any, len(m))
	for k := range m {
		path := fmt.Sprintf("%s[%s]", prefix, k)
		t := r.cs.templates[path]
		if t == nil {
			out[k] = ""
			continue
		}
		v, err := t.Value(r.vars)
		if err != nil {
			r.fail(path, err)
		}
		out[k] = v
	}
	return out
}

// list renders a list of templates.
func (r *renderer) list(prefix string, n int) []string {
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, r.str(fmt.Sprintf("%s[%d]", prefix, i)))
	}
	return out
}

// permanent marks a failure no retry can fix (a template that does not render).
func permanent(err error) error {
	return &actions.Error{Retryable: false, Err: err}
}

// buildRequest renders a side-effecting step into the exact request the
// executor performs. Template failures are permanent; secret failures retryable.
func (a *advance) buildRequest(cs *compiledStep, origin actions.Origin) (actions.Request, error) {
	r := &renderer{cs: cs, vars: a.vars()}
	req := actions.Request{Kind: actions.Kind(cs.kind), Origin: origin, Timeout: cs.attemptTO}
	conn := a.p.spec.Connections
	if conn == nil {
		conn = &v1alpha1.Connections{}
	}
	var err error
	switch cs.kind {
	case "sendEmail":
		req.Email, err = a.emailRequest(r, conn)
	case "sendSMS":
		req.SMS, err = a.smsRequest(r, conn)
	case "notify":
		req.Notify, err = a.notifyRequest(r, conn)
	case "callWebhook", "updateExternalCRM", "triggerZapier":
		req.HTTP, err = a.httpRequest(r, cs)
	default:
		if !actions.IsCommand(req.Kind) {
			return req, permanent(fmt.Errorf("step kind %q has no action", cs.kind))
		}
		req.Command, err = a.commandRequest(r, cs, conn)
	}
	if err != nil {
		return req, err
	}
	if r.err != nil {
		return req, permanent(r.err)
	}
	return req, nil
}

func (a *advance) emailRequest(r *renderer, conn *v1alpha1.Connections) (*actions.Email, error) {
	s := r.cs.step.SendEmail
	c := conn.SMTP
	if c == nil {
		return nil, permanent(errors.New("spec.connections.smtp is not set"))
	}
	m := &actions.Email{Host: c.Host, Port: int(c.Port), TLS: string(c.TLS), From: c.From,
		To: r.str("sendEmail.to"), Cc: r.list("sendEmail.cc", len(s.Cc)), ReplyTo: r.str("sendEmail.replyTo"),
		Subject: r.str("sendEmail.subject"), Body: r.str("sendEmail.body"), HTML: r.str("sendEmail.html")}
	if from := r.str("sendEmail.from"); from != "" {
		m.From = from
	}
	if ref := c.CredentialsSecretRef; ref != nil {
		var err error
		const field = "spec.connections.smtp.credentialsSecretRef"
		if m.Username, err = a.secrets.get(field, ref.Name, "username"); err != nil {
			return nil, err
		}
		if m.Password, err = a.secrets.get(field, ref.Name, "password"); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (a *advance) smsRequest(r *renderer, conn *v1alpha1.Connections) (*actions.SMS, error) {
	c := conn.SMS
	if c == nil {
		return nil, permanent(errors.New("spec.connections.sms is not set"))
	}
	m := &actions.SMS{URL: c.URL, Format: string(c.Format), From: c.From, To: r.str("sendSMS.to"), Body: r.str("sendSMS.body")}
	if ref := c.CredentialsSecretRef; ref != nil {
		var err error
		const field = "spec.connections.sms.credentialsSecretRef"
		if m.Format == string(v1alpha1.SMSFormatTwilio) {
			if m.Username, err = a.secrets.get(field, ref.Name, "username"); err != nil {
				return nil, err
			}
			m.Password, err = a.secrets.get(field, ref.Name, "password")
		} else {
			m.Token, err = a.secrets.get(field, ref.Name, "token")
		}
		if err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (a *advance) notifyRequest(r *renderer, conn *v1alpha1.Connections) (*actions.Notification, error) {
	ref := r.cs.step.Notify.WebhookURLSecretRef
	field := a.stepPath(r.cs) + ".notify.webhookURLSecretRef"
	if ref == nil && conn.Notify != nil {
		ref = &conn.Notify.WebhookURLSecretRef
		field = "spec.connections.notify.webhookURLSecretRef"
	}
	if ref == nil {
		return nil, permanent(errors.New("notify needs webhookURLSecretRef or spec.connections.notify"))
	}
	url, err := a.secrets.get(field, ref.Name, ref.Key)
	if err != nil {
		return nil, err
	}
	return &actions.Notification{WebhookURL: url, Channel: r.str("notify.channel"), Text: r.str("notify.message")}, nil
}

// httpRequest builds callWebhook, updateExternalCRM and triggerZapier calls.
func (a *advance) httpRequest(r *renderer, cs *compiledStep) (*actions.HTTPCall, error) {
	call := &actions.HTTPCall{Headers: map[string]string{}}
	var urlTmpl string
	var urlFrom *v1alpha1.SecretKeySelector
	var headers []v1alpha1.HTTPHeader
	urlField := a.stepPath(cs) + "." + cs.kind + ".urlFrom"
	switch cs.kind {
	case "callWebhook":
		w := cs.step.CallWebhook
		call.Method, urlTmpl, urlFrom, headers = string(w.Method), "callWebhook.url", w.URLFrom, w.Headers
		if body := r.str("callWebhook.body"); body != "" {
			call.Body = []byte(body)
		}
		for _, c := range w.SuccessCodes {
			call.SuccessCodes = append(call.SuccessCodes, int(c))
		}
	case "updateExternalCRM":
		x := cs.step.UpdateExternalCRM
		call.Method, urlTmpl, urlFrom, headers = string(x.Method), "updateExternalCRM.url", x.URLFrom, x.Headers
		body, err := jsonBody(map[string]any{"object": x.Object, "id": r.str("updateExternalCRM.recordId"),
			"fields": r.fields("updateExternalCRM.fields", x.Fields)})
		if err != nil {
			return nil, permanent(err)
		}
		call.Body = body
	case "triggerZapier":
		z := cs.step.TriggerZapier
		call.Method, urlFrom = http.MethodPost, &z.HookURLSecretRef
		urlField = a.stepPath(cs) + ".triggerZapier.hookURLSecretRef"
		body, err := jsonBody(r.fields("triggerZapier.data", z.Data))
		if err != nil {
			return nil, permanent(err)
		}
		call.Body = body
	}
	if urlFrom != nil {
		u, err := a.secrets.get(urlField, urlFrom.Name, urlFrom.Key)
		if err != nil {
			return nil, err
		}
		call.URL, call.SecretURL = u, true
	} else {
		call.URL = r.str(urlTmpl)
	}
	for i, h := range headers {
		if h.ValueFrom != nil {
			v, err := a.secrets.get(fmt.Sprintf("%s.%s.headers[%d].valueFrom", a.stepPath(cs), cs.kind, i), h.ValueFrom.Name, h.ValueFrom.Key)
			if err != nil {
				return nil, err
			}
			call.Headers[h.Name] = v
			continue
		}
		call.Headers[h.Name] = r.str(fmt.Sprintf("%s.headers[%d].value", cs.kind, i))
	}
	return call, nil
}

func jsonBody(v any) ([]byte, error) {
	b, err := template.MarshalJSON(expr.JSONable(v))
	if err != nil {
		return nil, fmt.Errorf("encode body as JSON: %w", err)
	}
	return b, nil
}

// commandRequest builds the CloudEvents command of a contact or CRM action;
// docs/commands.md documents each type's data.
func (a *advance) commandRequest(r *renderer, cs *compiledStep, conn *v1alpha1.Connections) (*actions.Command, error) {
	cmd := &actions.Command{SinkURL: a.e.opts.CRMSinkURL}
	cmd.Type, _ = actions.CommandType(actions.Kind(cs.kind))
	if c := conn.CRM; c != nil {
		if c.SinkURL != "" {
			cmd.SinkURL = c.SinkURL
		}
		if ref := c.CredentialsSecretRef; ref != nil {
			tok, err := a.secrets.get("spec.connections.crm.credentialsSecretRef", ref.Name, "token")
			if err != nil {
				return nil, err
			}
			cmd.Token = tok
		}
	}
	if cmd.SinkURL == "" {
		return nil, permanent(errors.New("no CRM sink: set spec.connections.crm.sinkURL or the manager's --crm-sink-url"))
	}
	cmd.Subject, cmd.Data = a.commandData(r, cs)
	return cmd, nil
}

// contactID renders a contactId template, defaulting to the run's subject.
func (a *advance) contactID(r *renderer, path string) string {
	if r.cs.templates[path] != nil {
		return r.str(path)
	}
	return a.run.Spec.Subject
}

// commandData returns the entity id (the event subject) and the data of a command.
func (a *advance) commandData(r *renderer, cs *compiledStep) (string, map[string]any) {
	s := cs.step
	put := func(m map[string]any, k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	switch cs.kind {
	case "updateContact":
		id := a.contactID(r, "updateContact.contactId")
		return id, map[string]any{"contactId": id, "fields": r.fields("updateContact.fields", s.UpdateContact.Fields)}
	case "addTags", "removeTags":
		t := s.AddTags
		if cs.kind == "removeTags" {
			t = s.RemoveTags
		}
		id := a.contactID(r, cs.kind+".contactId")
		return id, map[string]any{"contactId": id, "tags": r.list(cs.kind+".tags", len(t.Tags))}
	case "addToSegment", "removeFromSegment":
		id := a.contactID(r, cs.kind+".contactId")
		return id, map[string]any{"contactId": id, "segment": r.str(cs.kind + ".segment")}
	case "assignContact":
		id := a.contactID(r, "assignContact.contactId")
		d := map[string]any{"contactId": id}
		put(d, "user", r.str("assignContact.user"))
		put(d, "team", r.str("assignContact.team"))
		return id, d
	case "createTask":
		id := a.contactID(r, "createTask.contactId")
		d := map[string]any{"contactId": id, "title": r.str("createTask.title")}
		put(d, "description", r.str("createTask.description"))
		put(d, "assignee", r.str("createTask.assignee"))
		if cs.dueIn > 0 {
			d["due"] = expr.FormatTime(a.now.Add(cs.dueIn))
		}
		return id, d
	case "createLead":
		id := a.contactID(r, "createLead.contactId")
		d := map[string]any{"contactId": id}
		put(d, "source", r.str("createLead.source"))
		put(d, "status", r.str("createLead.status"))
		if len(s.CreateLead.Fields) > 0 {
			d["fields"] = r.fields("createLead.fields", s.CreateLead.Fields)
		}
		return id, d
	case "updateLeadStatus":
		id := r.strOr("updateLeadStatus.leadId", a.e.defaultLeadID)
		return id, map[string]any{"leadId": id, "status": r.str("updateLeadStatus.status")}
	case "createTicket":
		id := a.contactID(r, "createTicket.contactId")
		d := map[string]any{"contactId": id, "title": r.str("createTicket.title"), "priority": string(s.CreateTicket.Priority)}
		put(d, "description", r.str("createTicket.description"))
		put(d, "team", r.str("createTicket.team"))
		return id, d
	case "assignTicket":
		id := r.strOr("assignTicket.ticketId", a.e.defaultTicketID)
		d := map[string]any{"ticketId": id}
		put(d, "user", r.str("assignTicket.user"))
		put(d, "team", r.str("assignTicket.team"))
		return id, d
	}
	return a.run.Spec.Subject, map[string]any{}
}

// stepPath is the spec path of a step, for messages: spec.steps[2].
func (a *advance) stepPath(cs *compiledStep) string {
	if i, ok := a.p.stepIndex[cs.step.Name]; ok {
		return fmt.Sprintf("spec.steps[%d]", i)
	}
	return "spec.steps[" + strconv.Quote(cs.step.Name) + "]"
}
