package actions

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// dnsServer is a real DNS server on 127.0.0.1 (UDP) that answers every A
// query with 127.0.0.1: a public-looking name that resolves to loopback,
// as in a DNS-rebinding attack.
func dnsServer(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true})
			_ = b.StartQuestions()
			_ = b.Question(q)
			_ = b.StartAnswers()
			if q.Type == dnsmessage.TypeA {
				_ = b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 5}, dnsmessage.AResource{A: [4]byte{127, 0, 0, 1}})
			}
			msg, err := b.Finish()
			if err == nil {
				_, _ = pc.WriteTo(msg, from)
			}
		}
	}()
	return pc.LocalAddr().String()
}

// TestEgressChecksResolvedAddress: the policy is applied to the address the
// dialer connects to, after DNS resolution, not to the name in the URL.
func TestEgressChecksResolvedAddress(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	t.Cleanup(srv.Close)
	dns := dnsServer(t)
	resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "udp", dns)
	}}
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	target := "http://rebind.example.com:" + port + "/"

	for _, tc := range []struct {
		name   string
		policy EgressPolicy
		refuse bool
	}{
		{"default policy", EgressPolicy{}, true},
		{"address allowed", EgressPolicy{Allow: []string{"127.0.0.1"}}, false},
		{"name allowed", EgressPolicy{Allow: []string{".example.com"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eg, err := compileEgress(tc.policy)
			if err != nil {
				t.Fatal(err)
			}
			c := &http.Client{Transport: &http.Transport{DialContext: eg.dialContext(&net.Dialer{Resolver: resolver})}}
			resp, err := c.Get(target)
			if resp != nil {
				_ = resp.Body.Close()
			}
			var refused *EgressError
			if got := errors.As(err, &refused); got != tc.refuse {
				t.Fatalf("refused=%v, want %v (err %v)", got, tc.refuse, err)
			}
			if tc.refuse && !strings.Contains(err.Error(), "rebind.example.com (127.0.0.1:"+port+")") {
				t.Fatalf("message does not name the name and the address: %v", err)
			}
		})
	}
}
