package runner

import (
	"fmt"
	"sort"
	"strings"

	"github.com/crmflow/crmflow/runner/actions"
)

// describe says in one line what a dry run would have done.
func describe(req actions.Request) string {
	switch {
	case req.Email != nil:
		return fmt.Sprintf("would send email to %s: %q", req.Email.To, req.Email.Subject)
	case req.SMS != nil:
		return fmt.Sprintf("would send SMS to %s: %q", req.SMS.To, truncate(req.SMS.Body, 200))
	case req.Notify != nil:
		target := req.Notify.Channel
		if target == "" {
			target = "the notification hook"
		}
		return fmt.Sprintf("would notify %s: %q", target, truncate(req.Notify.Text, 200))
	case req.Command != nil:
		return fmt.Sprintf("would send %s for %s to %s", req.Command.Type, req.Command.Subject, req.Command.SinkURL)
	case req.HTTP != nil:
		return fmt.Sprintf("would %s %s", req.HTTP.Method, req.HTTP.URL)
	}
	return "would run " + string(req.Kind)
}

// requestView is the rendered request as a dry run records it in the
// step's output. A dry run reads no Secret, so credentials show as
// "<secret name/key>" placeholders.
func requestView(req actions.Request) map[string]any {
	v := map[string]any{"kind": string(req.Kind), "idempotencyKey": req.Origin.IdempotencyKey}
	switch {
	case req.Email != nil:
		m := req.Email
		v["email"] = map[string]any{"server": fmt.Sprintf("%s:%d", m.Host, m.Port), "tls": m.TLS, "username": m.Username,
			"from": m.From, "to": m.To, "cc": m.Cc, "replyTo": m.ReplyTo, "subject": m.Subject, "body": m.Body, "html": m.HTML}
	case req.SMS != nil:
		m := req.SMS
		v["sms"] = map[string]any{"url": m.URL, "format": m.Format, "from": m.From, "to": m.To, "body": m.Body}
	case req.Notify != nil:
		v["notify"] = map[string]any{"webhookURL": req.Notify.WebhookURL, "channel": req.Notify.Channel, "text": req.Notify.Text}
	case req.Command != nil:
		c := req.Command
		v["command"] = map[string]any{"sinkURL": c.SinkURL, "type": c.Type, "id": req.Origin.IdempotencyKey, "subject": c.Subject, "data": c.Data}
	case req.HTTP != nil:
		h := req.HTTP
		headers := make([]string, 0, len(h.Headers))
		for k, val := range h.Headers {
			headers = append(headers, k+": "+val)
		}
		sort.Strings(headers)
		v["http"] = map[string]any{"method": h.Method, "url": h.URL, "headers": strings.Join(headers, "\n"), "body": string(h.Body)}
	}
	return v
}
