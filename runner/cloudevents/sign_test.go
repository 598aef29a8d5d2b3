package cloudevents

import (
	"net/http"
	"testing"
)

// TestCanonicalRequest pins the signed text, which senders reimplement from docs/intake.md.
func TestCanonicalRequest(t *testing.T) {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Ce-Type", "lead.created")
	h.Set("CE-ID", " e-1 ")
	h.Add("Ce-Crmflowchain", "a/b/c")
	h.Set("Authorization", "Bearer x")
	got := string(CanonicalRequest("1772452800", h, []byte(`{"a":1}`)))
	want := "v1\n1772452800\ncontent-type:application/json\nce-crmflowchain:a/b/c\nce-id:e-1\nce-type:lead.created\n\n{\"a\":1}"
	if got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}
