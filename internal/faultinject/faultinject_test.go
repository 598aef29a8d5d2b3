package faultinject

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"k8s.io/client-go/rest"
)

// TestWrap: reads pass untouched; with rate 1 every write fails, the
// "after-apply" kinds having reached the server first; the log names each.
func TestWrap(t *testing.T) {
	var reached atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	var log bytes.Buffer
	cfg := &rest.Config{Host: srv.URL}
	Wrap(cfg, Spec{Seed: 1, Rate: 1}, &log)
	rt, err := rest.TransportFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: rt}
	resp, err := c.Get(srv.URL + "/api/v1/namespaces")
	if err != nil {
		t.Fatalf("a read was touched: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("a read was touched: %v", resp)
	}
	applied := 0
	seen := map[string]bool{}
	for range 40 {
		before := reached.Load()
		resp, err := c.Post(srv.URL+"/api/v1/namespaces", "application/json", strings.NewReader("{}"))
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode < 300 {
				t.Fatalf("a write passed at rate 1")
			}
		}
		if reached.Load() > before {
			applied++
		}
	}
	for _, l := range strings.Split(strings.TrimSpace(log.String()), "\n") {
		seen[strings.Fields(l)[1]] = true
	}
	if len(seen) != len(kinds) || applied == 0 || applied == 40 {
		t.Fatalf("kinds %v, %d of 40 applied", seen, applied)
	}
	if _, err := Parse("seed=3,rate=2"); err == nil {
		t.Fatal("rate 2 accepted")
	}
	if sp, err := Parse("seed=3,rate=0.25"); err != nil || sp.Seed != 3 || sp.Rate != 0.25 {
		t.Fatalf("parse: %+v %v", sp, err)
	}
}
