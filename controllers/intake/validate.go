package intake

import (
	"bytes"
	"fmt"
	"net/http"
	"time"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/controllers/intake/request"
)

// latestStorable is the last instant a WorkflowRun's times can hold: the
// API stores RFC 3339 times with a four-digit year in UTC.
var latestStorable = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// validateEvents checks, before anything is persisted, what the API server
// or the run controller would refuse later, so a bad event is answered 400
// naming the attribute, and a batch holding one is refused whole, with
// nothing written and nothing held. Retrying such an event can never
// succeed, so it must not be answered 503.
func (r *Receiver) validateEvents(evs []v1alpha1.CloudEvent) error {
	now := r.opts.Clock.Now()
	for i := range evs {
		if err := r.validateEvent(&evs[i], now); err != nil {
			where := ""
			if len(evs) > 1 {
				where = fmt.Sprintf("event %d of the batch (id %q): ", i, evs[i].ID)
			}
			return &request.Error{Status: http.StatusBadRequest, Message: where + err.Error()}
		}
	}
	return nil
}

func (r *Receiver) validateEvent(ev *v1alpha1.CloudEvent, now time.Time) error {
	if ev.Time != nil {
		t := ev.Time.Time
		switch {
		case t.UTC().After(latestStorable) || t.UTC().Year() < 1:
			return fmt.Errorf("attribute \"time\" %s is outside the years 0001-9999", t.Format(time.RFC3339))
		case t.After(now.Add(r.opts.MaxClockSkew)):
			return fmt.Errorf("attribute \"time\" %s is more than %s ahead of this receiver's clock (%s)",
				t.Format(time.RFC3339), r.opts.MaxClockSkew, now.UTC().Format(time.RFC3339))
		case t.Before(now.Add(-r.opts.MaxEventAge)):
			return fmt.Errorf("attribute \"time\" %s is more than %s old; events this old are refused (--max-event-age)",
				t.Format(time.RFC3339), r.opts.MaxEventAge)
		}
	}
	if ev.Data != nil && len(ev.Data.Raw) > 0 {
		raw := bytes.TrimSpace(ev.Data.Raw)
		if len(raw) > 0 && raw[0] != '{' && !bytes.Equal(raw, []byte("null")) {
			return fmt.Errorf("attribute \"data\" must be a JSON object (expressions read its top-level keys), not %s", jsonKind(raw[0]))
		}
	}
	return nil
}

func jsonKind(first byte) string {
	switch first {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}
