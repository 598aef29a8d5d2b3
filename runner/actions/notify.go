package actions

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// notifier posts a Slack-compatible incoming-webhook message.
type notifier struct {
	t *transport
}

// slackMessage is the body of an incoming-webhook post.
type slackMessage struct {
	Text    string `json:"text"`
	Channel string `json:"channel,omitempty"`
}

func (n *notifier) send(ctx context.Context, o Origin, m *Notification) (Result, error) {
	// The whole URL of an incoming webhook is a credential: show the host only.
	tg := target{kind: KindNotify, method: http.MethodPost, display: RedactSecretURL(m.WebhookURL), secret: true}
	if err := checkURL("notify webhookURL", m.WebhookURL); err != nil {
		return Result{}, permanent(err)
	}
	if m.Text == "" {
		return Result{}, permanent(fmt.Errorf("notify message is empty"))
	}
	body, err := json.Marshal(slackMessage{Text: m.Text, Channel: m.Channel})
	if err != nil {
		return Result{}, permanent(fmt.Errorf("notify: encode JSON body: %w", err))
	}
	req, err := n.t.newRequest(ctx, tg, m.WebhookURL, o.IdempotencyKey, body)
	if err != nil {
		return Result{}, err
	}
	req.Header.Set("Content-Type", "application/json")

	resp, err := n.t.roundTrip(req, tg)
	if err != nil {
		return Result{}, err
	}
	msg := "notified " + tg.display
	if m.Channel != "" {
		msg = fmt.Sprintf("notified channel %s via %s", m.Channel, tg.display)
	}
	return Result{Message: msg, Output: resp.output()}, nil
}
