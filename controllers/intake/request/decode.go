package request

import (
	"net/http"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/runner/cloudevents"
)

// Decode turns the headers and body of one POST into events with the
// shared codec (cloudevents.Decode), and answers its refusals with intake's
// status codes: see StatusOf.
func Decode(h http.Header, body []byte, lim cloudevents.Limits) ([]v1alpha1.CloudEvent, error) {
	evs, err := cloudevents.Decode(h, body, lim)
	if err != nil {
		return nil, refusal(err)
	}
	return evs, nil
}

// ParseChain reads the loop-prevention extensions of an event
// (cloudevents.ParseChain); a bad one is refused with 400.
func ParseChain(exts map[string]string, maxHops int32) (v1alpha1.CausalChain, error) {
	chain, err := cloudevents.ParseChain(exts, maxHops)
	if err != nil {
		return chain, refusal(err)
	}
	return chain, nil
}
