package cloudevents

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	ceevent "github.com/cloudevents/sdk-go/v2/event"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// TestSetBinaryRoundTrip: what SetBinary writes, Decode reads back unchanged.
func TestSetBinaryRoundTrip(t *testing.T) {
	at := metav1.NewTime(time.Date(2026, 3, 2, 12, 0, 0, 500, time.UTC))
	in := v1alpha1.CloudEvent{ID: "e-1", Source: "crm", Type: "lead.created", Subject: "c-1", Time: &at,
		Extensions: map[string]string{v1alpha1.ExtensionHops: "2", v1alpha1.ExtensionChain: "ns/a/c-1"},
		Data:       &runtime.RawExtension{Raw: []byte(`{"lead":{"id":"l-1"}}`)}}
	h := http.Header{}
	body := SetBinary(h, &in)
	if got := h.Get("Content-Type"); got != JSON {
		t.Fatalf("Content-Type %q, want %q (data without a datacontenttype is JSON)", got, JSON)
	}
	evs, err := Decode(h, body, Limits{})
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	got := evs[0]
	if got.ID != in.ID || got.Source != in.Source || got.Type != in.Type || got.Subject != in.Subject ||
		!got.Time.Equal(&at) || !bytes.Equal(got.Data.Raw, in.Data.Raw) ||
		got.Extensions[v1alpha1.ExtensionHops] != "2" || got.Extensions[v1alpha1.ExtensionChain] != "ns/a/c-1" {
		t.Fatalf("round trip changed the event:\n in %+v\nout %+v", in, got)
	}

	// No data: no Content-Type, no body, and still a valid event.
	h = http.Header{}
	if body := SetBinary(h, &v1alpha1.CloudEvent{ID: "e-2", Source: "crm", Type: "t"}); body != nil || h.Get("Content-Type") != "" {
		t.Fatalf("event without data wrote body %q, Content-Type %q", body, h.Get("Content-Type"))
	}
	if _, err := Decode(h, nil, Limits{}); err != nil {
		t.Fatalf("Decode of an event without data: %v", err)
	}
}

// TestWriteBinaryRoundTrip: an SDK event written by WriteBinary decodes to
// the same attributes, its data the body alone.
func TestWriteBinaryRoundTrip(t *testing.T) {
	ev := ceevent.New(SpecVersion)
	ev.SetID("run-uid/welcome")
	ev.SetSource("crmflow.io/sales/wf")
	ev.SetType("io.crmflow.contact.update")
	ev.SetSubject("c-42")
	ev.SetExtension(v1alpha1.ExtensionHops, 1)
	if err := ev.SetData(JSON, map[string]any{"tags": []string{"VIP"}}); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteBinary(context.Background(), &ev, req); err != nil {
		t.Fatalf("WriteBinary: %v", err)
	}
	if req.Header.Get("Ce-Id") != "run-uid/welcome" || req.Header.Get("Content-Type") != JSON {
		t.Fatalf("not binary mode: %v", req.Header)
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	evs, err := Decode(req.Header, body, Limits{})
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if got := evs[0]; got.ID != ev.ID() || got.Subject != "c-42" || string(got.Data.Raw) != `{"tags":["VIP"]}` ||
		got.Extensions[v1alpha1.ExtensionHops] != "1" {
		t.Fatalf("decoded %+v", got)
	}
}

// TestSignCoversWhatItSets: Sign sets the timestamp and a v1 signature that
// Signature recomputes from the same request, and only from it.
func TestSignCoversWhatItSets(t *testing.T) {
	key, body := []byte("k"), []byte(`{"a":1}`)
	h := http.Header{}
	SetBinary(h, &v1alpha1.CloudEvent{ID: "e-1", Source: "crm", Type: "t", Data: &runtime.RawExtension{Raw: body}})
	Sign(key, time.Unix(1772452800, 0), h, body)
	if h.Get(TimestampHeader) != "1772452800" {
		t.Fatalf("timestamp %q", h.Get(TimestampHeader))
	}
	want := SignatureVersion + "=" + hex.EncodeToString(Signature(key, "1772452800", h, body))
	if h.Get(SignatureHeader) != want {
		t.Fatalf("signature %q, want %q", h.Get(SignatureHeader), want)
	}
	other := h.Clone()
	other.Set("Ce-Id", "e-2")
	if hex.EncodeToString(Signature(key, "1772452800", other, body)) == strings.TrimPrefix(want, "v1=") {
		t.Fatal("the signature does not cover ce-id")
	}
}

// TestReasons: each refusal carries its reason; other errors have none.
func TestReasons(t *testing.T) {
	for _, c := range []struct {
		name   string
		ct     string
		body   string
		reason Reason
	}{
		{"not a CloudEvent", "text/plain", "hi", Unsupported},
		{"malformed", StructuredJSON, `{"specversion":`, Malformed},
		{"batch too large", BatchJSON, "[" + strings.Repeat(`{},`, 2) + `{}]`, TooLarge},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode(http.Header{"Content-Type": {c.ct}}, []byte(c.body), Limits{MaxBatch: 2})
			if r, ok := ReasonOf(err); !ok || r != c.reason {
				t.Fatalf("got %q (%v), want %q", r, err, c.reason)
			}
		})
	}
	if _, ok := ReasonOf(context.Canceled); ok {
		t.Fatal("a foreign error has a reason")
	}
}
