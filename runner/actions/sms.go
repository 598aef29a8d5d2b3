package actions

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// SMS request formats (v1alpha1.SMSFormat).
const (
	// SMSFormatJSON posts {"from","to","body"} as JSON with a bearer token.
	SMSFormatJSON = "JSON"
	// SMSFormatTwilio posts From, To and Body form-encoded with basic auth.
	SMSFormatTwilio = "Twilio"
)

// smsSender posts a text message to an HTTP SMS provider.
type smsSender struct {
	t *transport
}

// smsJSON is the body of the JSON format.
type smsJSON struct {
	From string `json:"from,omitempty"`
	To   string `json:"to"`
	Body string `json:"body"`
}

func (s *smsSender) send(ctx context.Context, o Origin, m *SMS) (Result, error) {
	tg := target{kind: KindSendSMS, method: http.MethodPost, display: RedactURL(m.URL)}
	if err := validateSMS(m); err != nil {
		return Result{}, permanent(err)
	}

	var (
		body        []byte
		contentType string
	)
	switch m.Format {
	case "", SMSFormatJSON:
		b, err := json.Marshal(smsJSON{From: m.From, To: m.To, Body: m.Body})
		if err != nil {
			return Result{}, permanent(fmt.Errorf("sendSMS: encode JSON body: %w", err))
		}
		body, contentType = b, "application/json"
	case SMSFormatTwilio:
		form := url.Values{}
		if m.From != "" {
			form.Set("From", m.From)
		}
		form.Set("To", m.To)
		form.Set("Body", m.Body)
		body, contentType = []byte(form.Encode()), "application/x-www-form-urlencoded"
	}

	req, err := s.t.newRequest(ctx, tg, m.URL, o.IdempotencyKey, body)
	if err != nil {
		return Result{}, err
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	switch {
	case m.Format == SMSFormatTwilio && m.Username != "":
		req.SetBasicAuth(m.Username, m.Password)
	case m.Format != SMSFormatTwilio && m.Token != "":
		req.Header.Set("Authorization", "Bearer "+m.Token)
	}

	resp, err := s.t.roundTrip(req, tg)
	if err != nil {
		return Result{}, err
	}
	return Result{
		Message: fmt.Sprintf("sent SMS to %s via %s (%d)", m.To, tg.display, resp.status),
		Output:  resp.output(),
	}, nil
}

func validateSMS(m *SMS) error {
	if err := checkURL("sendSMS url", m.URL); err != nil {
		return err
	}
	if m.Format != "" && m.Format != SMSFormatJSON && m.Format != SMSFormatTwilio {
		return fmt.Errorf("sendSMS format %q is not JSON or Twilio", m.Format)
	}
	if strings.TrimSpace(m.To) == "" {
		return fmt.Errorf("sendSMS to is empty")
	}
	if m.Body == "" {
		return fmt.Errorf("sendSMS body is empty")
	}
	return nil
}
