package main

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSinkFindsLossAndDuplicates drives the sink over HTTP as the manager
// does: a complete event, an event missing a side effect, an event whose
// command arrived twice, and an event that enrolled two runs.
func TestSinkFindsLossAndDuplicates(t *testing.T) {
	s, err := startSink()
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	post := func(path, key, body string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, s.url+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Idempotency-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
	}
	effects := func(uid, event string) {
		post("/notify/vip-support", uid+"/notify-vip-team", `{"text":"VIP Bench `+event+` started a conversation on chat."}`)
		post("/crm", uid+"/tag-conversation", `{}`)
		post("/crm", uid+"/stamp-last-contact", `{}`)
	}
	effects("u1", "e1")
	post("/notify/vip-support", "u2/notify-vip-team", `{"text":"VIP Bench e2 started a conversation on chat."}`)
	post("/crm", "u2/tag-conversation", `{}`)
	effects("u3", "e3")
	post("/crm", "u3/tag-conversation", `{}`)
	effects("u4", "e4")
	effects("u5", "e4")

	lost, dupRuns, dupKeys := s.check([]string{"e1", "e2", "e3", "e4", "e5"})
	if lost != 2 || dupRuns != 1 || dupKeys != 1 {
		t.Errorf("check = lost %d, duplicate runs %d, duplicate keys %d; want 2 (e2, e5), 1 (e4), 1 (u3/tag-conversation)", lost, dupRuns, dupKeys)
	}
	if n, last := s.distinct(); n != 14 || time.Since(last) > time.Minute {
		t.Errorf("distinct = %d at %s, want 14 just now", n, last)
	}
}

func TestParseLabels(t *testing.T) {
	got := parseLabels(`code="409",component="apiserver",resource="workflows",subresource="status",verb="PATCH"`)
	want := map[string]string{"code": "409", "component": "apiserver", "resource": "workflows", "subresource": "status", "verb": "PATCH"}
	if len(got) != len(want) {
		t.Fatalf("parseLabels = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("label %s = %q, want %q", k, got[k], v)
		}
	}
}

func TestPercentileAndMedian(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	if p := percentile(ds, 50); p != 50*time.Millisecond {
		t.Errorf("p50 = %s, want 50ms", p)
	}
	if p := percentile(ds, 99); p != 99*time.Millisecond {
		t.Errorf("p99 = %s, want 99ms", p)
	}
	if m := median([]float64{3, 1, 2, 10}); m != 2.5 {
		t.Errorf("median = %v, want 2.5", m)
	}
}
