package actions_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/crmflow/crmflow/runner/actions"
	"github.com/crmflow/crmflow/test/servers"
)

func webhook(g Gomega, exec actions.Executor, method, rawURL string, headers map[string]string) (actions.Result, error) {
	return exec.Execute(context.Background(), actions.Request{
		Kind: actions.KindCallWebhook, Origin: origin(),
		HTTP: &actions.HTTPCall{Method: method, URL: rawURL, Headers: headers, Body: []byte(`{"lead":"l-1"}`)},
	})
}

func portOf(g Gomega, raw string) int {
	u, err := url.Parse(raw)
	g.Expect(err).NotTo(HaveOccurred())
	p, err := strconv.Atoi(u.Port())
	g.Expect(err).NotTo(HaveOccurred())
	return p
}

// TestEgressDefaultDenies: with the default policy a callWebhook to a
// loopback, link-local (metadata) or unspecified address is a permanent
// failure that names the rule, and nothing reaches the server.
func TestEgressDefaultDenies(t *testing.T) {
	g := NewWithT(t)
	srv := newHTTPTarget(t, nil)
	exec := newExecutor(func(c *actions.Config) { c.Egress = nil })
	for _, target := range []string{
		srv.URL,
		strings.Replace(srv.URL, "127.0.0.1", "localhost", 1),
		strings.Replace(srv.URL, "127.0.0.1", "[::ffff:127.0.0.1]", 1),
		"http://169.254.169.254/latest/meta-data/iam/security-credentials/",
		"http://[fe80::1]/",
		"http://0.0.0.0:" + strconv.Itoa(portOf(g, srv.URL)) + "/",
	} {
		_, err := webhook(g, exec, http.MethodPost, target, nil)
		g.Expect(err).To(MatchError(ContainSubstring("egress policy refuses")), target)
		g.Expect(actions.IsRetryable(err)).To(BeFalse(), target)
	}
	g.Expect(srv.Requests()).To(BeEmpty())

	// Allowed explicitly, the same server answers; its own port is refused
	// whatever the allow-list says.
	allowed := newExecutor(func(c *actions.Config) { c.Egress = &actions.EgressPolicy{Allow: []string{"127.0.0.0/8"}} })
	_, err := webhook(g, allowed, http.MethodPost, srv.URL, nil)
	g.Expect(err).NotTo(HaveOccurred())
	own := newExecutor(func(c *actions.Config) {
		c.Egress = &actions.EgressPolicy{Allow: []string{"127.0.0.1"}, DenyPorts: []int{portOf(g, srv.URL)}}
	})
	_, err = webhook(g, own, http.MethodPost, srv.URL, nil)
	g.Expect(err).To(MatchError(ContainSubstring("the manager's own ports")))
	g.Expect(srv.Requests()).To(HaveLen(1))
}

// TestEgressRechecksRedirects: a GET allowed to 127.0.0.1 that redirects to
// another loopback address is refused at the redirect.
func TestEgressRechecksRedirects(t *testing.T) {
	g := NewWithT(t)
	srv := newHTTPTarget(t, servers.Answer(http.StatusFound, "", "Location", "http://127.0.0.2:9/"))
	exec := newExecutor(func(c *actions.Config) { c.Egress = &actions.EgressPolicy{Allow: []string{"127.0.0.1/32"}} })
	_, err := webhook(g, exec, http.MethodGet, srv.URL, nil)
	g.Expect(err).To(MatchError(ContainSubstring("egress policy refuses 127.0.0.2:9: a loopback address")))
	g.Expect(actions.IsRetryable(err)).To(BeFalse())
}

// TestRedirectsOfNonGET (issue 10 item 6): a POST answered 301/302/303 is a
// failure naming the Location, not a Succeeded GET without the payload; a
// same-host 307/308 is followed keeping method and body; a 307 to another
// host is not followed; a GET redirected to another host carries no secret
// headers.
func TestRedirectsOfNonGET(t *testing.T) {
	allowBoth := func(c *actions.Config) {
		c.Egress = &actions.EgressPolicy{Allow: []string{"127.0.0.1", "localhost"}}
	}
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther} {
		t.Run("POST "+strconv.Itoa(code), func(t *testing.T) {
			g := NewWithT(t)
			elsewhere := newHTTPTarget(t, nil)
			srv := newHTTPTarget(t, servers.Answer(code, "", "Location", elsewhere.URL+"/moved?token=s3cret"))
			_, err := webhook(g, newExecutor(allowBoth), http.MethodPost, srv.URL+"/hook", nil)
			g.Expect(err).To(HaveOccurred())
			g.Expect(err.Error()).To(ContainSubstring("with Location " + elsewhere.URL + "/moved"))
			g.Expect(err.Error()).To(ContainSubstring("does not follow redirects of POST"))
			g.Expect(err.Error()).NotTo(ContainSubstring("s3cret"))
			g.Expect(actions.IsRetryable(err)).To(BeFalse())
			g.Expect(elsewhere.Requests()).To(BeEmpty())
		})
	}
	for _, code := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run("POST same-host "+strconv.Itoa(code), func(t *testing.T) {
			g := NewWithT(t)
			srv := newHTTPTarget(t, func(n int, w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/hook" {
					w.Header().Set("Location", "/new-hook")
					w.WriteHeader(code)
					return
				}
				w.WriteHeader(http.StatusOK)
			})
			_, err := webhook(g, newExecutor(allowBoth), http.MethodPost, srv.URL+"/hook", map[string]string{"X-Api-Key": "s3cret"})
			g.Expect(err).NotTo(HaveOccurred())
			reqs := srv.Requests()
			g.Expect(reqs).To(HaveLen(2))
			g.Expect(reqs[1].Method).To(Equal(http.MethodPost))
			g.Expect(reqs[1].Path).To(Equal("/new-hook"))
			g.Expect(string(reqs[1].Body)).To(Equal(`{"lead":"l-1"}`))
			g.Expect(reqs[1].Header.Get("X-Api-Key")).To(Equal("s3cret"), "same host keeps headers")
		})
	}
	t.Run("POST 307 to another host", func(t *testing.T) {
		g := NewWithT(t)
		elsewhere := newHTTPTarget(t, nil)
		other := strings.Replace(elsewhere.URL, "127.0.0.1", "localhost", 1)
		srv := newHTTPTarget(t, servers.Answer(http.StatusTemporaryRedirect, "", "Location", other))
		_, err := webhook(g, newExecutor(allowBoth), http.MethodPost, srv.URL, map[string]string{"X-Api-Key": "s3cret"})
		g.Expect(err).To(MatchError(ContainSubstring("Temporary Redirect with Location " + other)))
		g.Expect(elsewhere.Requests()).To(BeEmpty())
	})
	t.Run("GET to another host drops secret headers", func(t *testing.T) {
		g := NewWithT(t)
		elsewhere := newHTTPTarget(t, nil)
		other := strings.Replace(elsewhere.URL, "127.0.0.1", "localhost", 1)
		srv := newHTTPTarget(t, servers.Answer(http.StatusFound, "", "Location", other+"/x"))
		_, err := webhook(g, newExecutor(allowBoth), http.MethodGet, srv.URL, map[string]string{"X-Api-Key": "s3cret", "Authorization": "Bearer s3cret"})
		g.Expect(err).NotTo(HaveOccurred())
		reqs := elsewhere.Requests()
		g.Expect(reqs).To(HaveLen(1))
		g.Expect(reqs[0].Header.Get("X-Api-Key")).To(BeEmpty())
		g.Expect(reqs[0].Header.Get("Authorization")).To(BeEmpty())
		g.Expect(reqs[0].Header.Get(actions.HeaderIdempotencyKey)).To(Equal(origin().IdempotencyKey))
	})
	t.Run("GET to another host carries no Referer with the query", func(t *testing.T) {
		g := NewWithT(t)
		elsewhere := newHTTPTarget(t, nil)
		other := strings.Replace(elsewhere.URL, "127.0.0.1", "localhost", 1)
		srv := newHTTPTarget(t, servers.Answer(http.StatusFound, "", "Location", other+"/x"))
		_, err := webhook(g, newExecutor(allowBoth), http.MethodGet, srv.URL+"/lookup?apikey=s3cret", map[string]string{"Referer": "https://crm.example.com/"})
		g.Expect(err).NotTo(HaveOccurred())
		reqs := elsewhere.Requests()
		g.Expect(reqs).To(HaveLen(1))
		g.Expect(reqs[0].Header.Values("Referer")).To(BeEmpty())
	})
}

func TestParseEgressAllow(t *testing.T) {
	g := NewWithT(t)
	got, err := actions.ParseEgressAllow(" 127.0.0.1, 10.0.0.0/8 ,crm.internal,,.svc.cluster.local")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got).To(Equal([]string{"127.0.0.1", "10.0.0.0/8", "crm.internal", ".svc.cluster.local"}))
	_, err = actions.ParseEgressAllow("10.0.0.0/99")
	g.Expect(err).To(MatchError(ContainSubstring(`"10.0.0.0/99" is not a CIDR`)))
}
