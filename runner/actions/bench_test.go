package actions_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/crmflow/crmflow/runner/actions"
)

// BenchmarkExecutorOverhead measures one webhook call and one CloudEvents
// command through the executor against a hand-written net/http POST of the
// same body to the same local server, in the same run, and reports each as a
// ratio of that baseline (the cost of validation, headers, response capture
// and classification, and of the CloudEvents encoding).
func BenchmarkExecutorOverhead(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true,"id":"rec-1"}`)
	}))
	defer srv.Close()
	body := []byte(`{"contact":"contact-42","tags":["VIP"]}`)
	client := srv.Client()
	exec := actions.NewExecutor(actions.Config{HTTPClient: client})
	ctx := context.Background()

	// perOp of the last (largest) run of each sub-benchmark, for the ratios.
	perOp := map[string]time.Duration{}
	measure := func(name string, op func(b *testing.B)) {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				op(b)
			}
			perOp[name] = b.Elapsed() / time.Duration(b.N)
		})
	}
	execute := func(req actions.Request) func(b *testing.B) {
		return func(b *testing.B) {
			if _, err := exec.Execute(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	}

	measure("baseline", func(b *testing.B) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	})
	measure("webhook", execute(actions.Request{Kind: actions.KindCallWebhook, Origin: origin(),
		HTTP: &actions.HTTPCall{URL: srv.URL, Body: body}}))
	measure("command", execute(actions.Request{Kind: actions.KindAddTags, Origin: origin(),
		Command: &actions.Command{SinkURL: srv.URL, Data: map[string]any{"tags": []string{"VIP"}}}}))

	if base := perOp["baseline"]; base > 0 {
		b.Logf("baseline %v/op; webhook %v/op = %.2fx baseline; command %v/op = %.2fx baseline",
			base, perOp["webhook"], float64(perOp["webhook"])/float64(base),
			perOp["command"], float64(perOp["command"])/float64(base))
	}
}
