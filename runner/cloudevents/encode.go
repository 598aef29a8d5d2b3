package cloudevents

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	ceevent "github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// SetBinary writes ev's attributes into h as the binary HTTP mode does:
// ce-specversion, ce-id, ce-source, ce-type, ce-subject and ce-time when
// set, one ce-<name> header per extension, and Content-Type (the event's
// datacontenttype, else application/json) when the event carries data. It
// returns the body: the data, byte for byte. Sign after it, not before.
func SetBinary(h http.Header, ev *v1alpha1.CloudEvent) []byte {
	h.Set("Ce-Specversion", SpecVersion)
	h.Set("Ce-Id", ev.ID)
	h.Set("Ce-Source", ev.Source)
	h.Set("Ce-Type", ev.Type)
	if ev.Subject != "" {
		h.Set("Ce-Subject", ev.Subject)
	}
	if ev.Time != nil {
		h.Set("Ce-Time", ev.Time.UTC().Format(time.RFC3339Nano))
	}
	names := make([]string, 0, len(ev.Extensions))
	for k := range ev.Extensions {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		h.Set("Ce-"+k, ev.Extensions[k])
	}
	if ev.Data == nil || len(ev.Data.Raw) == 0 {
		return nil
	}
	ct := ev.DataContentType
	if ct == "" {
		ct = JSON
	}
	h.Set("Content-Type", ct)
	return ev.Data.Raw
}

// WriteBinary encodes an SDK event into req in binary mode with the
// CloudEvents SDK: attributes in ce-* headers, the data alone in the body.
func WriteBinary(ctx context.Context, ev *ceevent.Event, req *http.Request) error {
	if err := cehttp.WriteRequest(binding.WithForceBinary(ctx), binding.ToMessage(ev), req); err != nil {
		return fmt.Errorf("encode CloudEvent %s in binary mode: %w", ev.ID(), err)
	}
	return nil
}
