package request

import (
	"net/http"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/crmflow/crmflow/runner/cloudevents"
)

var signedAt = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

func signed(key string, at time.Time, body []byte, kv ...string) http.Header {
	h := header(append([]string{"Ce-Specversion", "1.0", "Ce-Id", "e-1", "Ce-Source", "crm", "Ce-Type", "lead.created",
		"Ce-Subject", "c-1", "Ce-Time", "2026-03-02T11:59:00Z", "Ce-Crmflowhops", "1", "Content-Type", "application/json"}, kv...)...)
	cloudevents.Sign([]byte(key), at, h, body)
	return h
}

func with(h http.Header, k, v string) http.Header {
	h = h.Clone()
	if v == "" {
		h.Del(k)
	} else {
		h.Set(k, v)
	}
	return h
}

// TestCredentials: tokens (any case of "Bearer"), signatures over the
// attributes and body with a fresh timestamp, and fail-closed refusals.
func TestCredentials(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(signedAt.Add(30 * time.Second))
	c := Credentials{Token: []byte("s3cret"), HMACKey: []byte("k"), Clock: clk}
	body := []byte(`{"lead":{}}`)
	good := signed("k", signedAt, body)
	for _, tc := range []struct {
		name   string
		creds  Credentials
		h      http.Header
		body   []byte
		status int
		msg    string
	}{
		{"none", c, header(), body, 401, "requires a credential"},
		{"wrong token", c, header("Authorization", "Bearer nope"), body, 403, "credential rejected"},
		{"token", c, header("Authorization", "Bearer s3cret"), body, 0, ""},
		{"token, lower-case scheme", c, header("Authorization", "bearer s3cret"), body, 0, ""},
		{"token, upper-case scheme", c, header("Authorization", "BEARER s3cret"), body, 0, ""},
		{"token, other scheme", c, header("Authorization", "Basic s3cret"), body, 403, "credential rejected"},
		{"signature", c, good, body, 0, ""},
		{"signature by another key", c, signed("other", signedAt, body), body, 403, "does not match the request"},
		{"signature of another body", c, good, []byte(`{"lead":{"x":1}}`), 403, "does not match the request"},
		{"replayed with another ce-id", c, with(good, "Ce-Id", "e-2"), body, 403, "does not match the request"},
		{"replayed with another ce-subject", c, with(good, "Ce-Subject", "c-2"), body, 403, "does not match the request"},
		{"replayed with another ce-type", c, with(good, "Ce-Type", "lead.deleted"), body, 403, "does not match the request"},
		{"replayed with another ce-time", c, with(good, "Ce-Time", "2026-03-02T11:58:00Z"), body, 403, "does not match the request"},
		{"replayed with another hop count", c, with(good, "Ce-Crmflowhops", "0"), body, 403, "does not match the request"},
		{"replayed with an added extension", c, with(good, "Ce-Crmflowchain", "a/b/c"), body, 403, "does not match the request"},
		{"replayed with another Content-Type", c, with(good, "Content-Type", "application/cloudevents+json"), body, 403, "does not match the request"},
		{"timestamp changed", c, with(good, cloudevents.TimestampHeader, "1772452801"), body, 403, "does not match the request"},
		{"no timestamp", c, with(good, cloudevents.TimestampHeader, ""), body, 403, "missing X-Crmflow-Timestamp"},
		{"timestamp not a number", c, with(good, cloudevents.TimestampHeader, "yesterday"), body, 403, "is not Unix seconds"},
		{"stale", c, signed("k", signedAt.Add(-5*time.Minute), body), body, 403, "5m30s away from the receiver's clock; the tolerance is 5m0s"},
		{"from the future", c, signed("k", signedAt.Add(6*time.Minute), body), body, 403, "5m30s away"},
		{"stale within a wider tolerance", Credentials{HMACKey: []byte("k"), Clock: clk, Tolerance: time.Hour}, signed("k", signedAt.Add(-50*time.Minute), body), body, 0, ""},
		{"retired body-only form", c, header(cloudevents.SignatureHeader, "sha256=00"), body, 403, "no longer accepted"},
		{"not hex", c, with(good, cloudevents.SignatureHeader, "v1=zz"), body, 403, "not hexadecimal"},
		{"unusable secret, nothing sent", Credentials{Unusable: "fix the Secret"}, header(), body, 401, "fix the Secret"},
		{"unusable secret, token sent", Credentials{Unusable: "fix the Secret"}, header("Authorization", "Bearer x"), body, 403, "fix the Secret"},
		{"unknown namespace, nothing sent", Credentials{Unknown: true, Namespace: "nope"}, header(), body, 401,
			`namespace "nope" does not exist or requires a credential: send Authorization: Bearer <token>`},
		{"unknown namespace, token sent", Credentials{Unknown: true, Namespace: "nope"}, header("Authorization", "Bearer x"), body, 403,
			`credential rejected: namespace "nope" does not exist or does not accept this credential: expected Authorization: Bearer <token>`},
		{"protected namespace answers in the same words, nothing sent", Credentials{Token: []byte("s3cret"), Namespace: "nope"}, header(), body, 401,
			`namespace "nope" does not exist or requires a credential: send Authorization: Bearer <token>`},
		{"protected namespace answers in the same words, token sent", Credentials{Token: []byte("s3cret"), Namespace: "nope"}, header("Authorization", "Bearer x"), body, 403,
			`credential rejected: namespace "nope" does not exist or does not accept this credential: expected Authorization: Bearer <token>`},
		{"open namespace", Credentials{}, header(), body, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.creds.Verify(tc.h, tc.body)
			got := 0
			if err != nil {
				got = StatusOf(err)
			}
			if got != tc.status || (err != nil && !strings.Contains(err.Error(), tc.msg)) {
				t.Fatalf("got %d (%v), want %d containing %q", got, err, tc.status, tc.msg)
			}
		})
	}
}
