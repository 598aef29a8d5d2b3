package request

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/crmflow/crmflow/runner/cloudevents"
)

func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

const structured = `{"specversion":"1.0","id":"e-1","source":"crm","type":"lead.created","subject":"c-1","time":"2026-01-02T03:04:05Z","datacontenttype":"application/json","crmflowhops":"2","crmflowchain":"ns/a/c-1","data":{"lead":{"source":"Website"}}}`

func TestDecodeModes(t *testing.T) {
	cases := []struct {
		name   string
		h      http.Header
		body   string
		events int
	}{
		{"structured", header("Content-Type", cloudevents.StructuredJSON+"; charset=utf-8"), structured, 1},
		{"binary", header("Ce-Specversion", "1.0", "Ce-Id", "e-2", "Ce-Source", "crm", "Ce-Type", "lead.created", "Content-Type", "application/json"), `{"lead":{}}`, 1},
		{"binary without data", header("Ce-Specversion", "1.0", "Ce-Id", "e-3", "Ce-Source", "crm", "Ce-Type", "lead.created"), ``, 1},
		{"batch", header("Content-Type", cloudevents.BatchJSON), "[" + structured + "," + strings.Replace(structured, `"e-1"`, `"e-9"`, 1) + "]", 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			evs, err := Decode(c.h, []byte(c.body), cloudevents.Limits{})
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if len(evs) != c.events {
				t.Fatalf("got %d events, want %d", len(evs), c.events)
			}
		})
	}
	evs, err := Decode(header("Content-Type", cloudevents.StructuredJSON), []byte(structured), cloudevents.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	ev := evs[0]
	if ev.ID != "e-1" || ev.Source != "crm" || ev.Type != "lead.created" || ev.Subject != "c-1" || ev.Time == nil {
		t.Fatalf("attributes not kept: %+v", ev)
	}
	if string(ev.Data.Raw) != `{"lead":{"source":"Website"}}` {
		t.Fatalf("data %s", ev.Data.Raw)
	}
	chain, err := ParseChain(ev.Extensions, 0)
	if err != nil || chain.Hops != 2 || len(chain.Links) != 1 || chain.Links[0] != "ns/a/c-1" {
		t.Fatalf("chain %+v, %v", chain, err)
	}
}

func TestDecodeRefusals(t *testing.T) {
	cases := []struct {
		name   string
		h      http.Header
		body   string
		status int
		msg    string
	}{
		{"plain text", header("Content-Type", "text/plain"), "hi", 415, "not a CloudEvent"},
		{"bad json", header("Content-Type", cloudevents.StructuredJSON), `{"specversion":`, 400, "malformed CloudEvent JSON"},
		{"missing id", header("Content-Type", cloudevents.StructuredJSON), `{"specversion":"1.0","source":"s","type":"t"}`, 400, `missing required attribute "id"`},
		{"old spec", header("Content-Type", cloudevents.StructuredJSON), `{"specversion":"0.3","id":"1","source":"s","type":"t"}`, 400, `unsupported specversion "0.3"`},
		{"text data", header("Content-Type", cloudevents.StructuredJSON), `{"specversion":"1.0","id":"1","source":"s","type":"t","datacontenttype":"text/plain","data":"x"}`, 415, "JSON data only"},
		{"binary bad json", header("Ce-Specversion", "1.0", "Ce-Id", "1", "Ce-Source", "s", "Ce-Type", "t", "Content-Type", "application/json"), `{nope`, 400, "not valid JSON"},
		{"batch object", header("Content-Type", cloudevents.BatchJSON), `{}`, 400, "not a JSON array"},
		{"hops", header("Content-Type", cloudevents.StructuredJSON), `{"specversion":"1.0","id":"1","source":"s","type":"t","crmflowhops":"x"}`, 400, "crmflowhops"},
		{"batch over the limit", header("Content-Type", cloudevents.BatchJSON), "[" + strings.Repeat("{},", 100) + "{}]", 413, "101 events; the limit is 100"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode(c.h, []byte(c.body), cloudevents.Limits{})
			if err == nil {
				t.Fatal("accepted")
			}
			if StatusOf(err) != c.status || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("got %d %q, want %d containing %q", StatusOf(err), err, c.status, c.msg)
			}
		})
	}
}

// FuzzDecode feeds arbitrary Content-Types, ce- headers and bodies to the
// parser: it must never panic, refuse only with a 4xx, and accept only
// events that would fit a WorkflowRun.
func FuzzDecode(f *testing.F) {
	f.Add(cloudevents.StructuredJSON, "", structured)
	f.Add(cloudevents.BatchJSON, "", "["+structured+"]")
	f.Add("application/json", "1.0", `{"a":1}`)
	f.Add("", "1.0", ``)
	f.Add("text/plain", "", "hello")
	f.Add(cloudevents.BatchJSON, "", "[{}]")
	f.Add(cloudevents.StructuredJSON, "", `{"specversion":"1.0","id":"1","source":"s","type":"t","data_base64":"e30="}`)
	f.Add(cloudevents.StructuredJSON, "", `{"specversion":"1.0","id":"1","source":"s","type":"t","time":"yesterday"}`)
	f.Fuzz(func(t *testing.T, contentType, specVersion, body string) {
		h := http.Header{}
		if contentType != "" {
			h.Set("Content-Type", contentType)
		}
		if specVersion != "" {
			h.Set("Ce-Specversion", specVersion)
			h.Set("Ce-Id", "fuzz")
			h.Set("Ce-Source", "fuzz")
			h.Set("Ce-Type", "fuzz")
		}
		evs, err := Decode(h, []byte(body), cloudevents.Limits{MaxBatch: 10, MaxDataBytes: 4096})
		if err != nil {
			if s := StatusOf(err); s < 400 || s > 499 {
				t.Fatalf("refusal with status %d: %v", s, err)
			}
			return
		}
		if len(evs) == 0 || len(evs) > 10 {
			t.Fatalf("accepted %d events", len(evs))
		}
		for _, ev := range evs {
			if ev.ID == "" || ev.Source == "" || ev.Type == "" || len(ev.ID) > cloudevents.MaxIDLength || len(ev.Extensions) > cloudevents.MaxExtensions {
				t.Fatalf("accepted an event that does not fit a run: %+v", ev)
			}
			if ev.Data != nil && (!json.Valid(ev.Data.Raw) || len(ev.Data.Raw) > 4096) {
				t.Fatalf("accepted data that is not capped JSON: %q", ev.Data.Raw)
			}
		}
	})
}
