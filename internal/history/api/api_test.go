//go:build !unit

package api_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/internal/history"
	"github.com/crmflow/crmflow/internal/history/api"
	"github.com/crmflow/crmflow/internal/history/sqlstore"
	"github.com/crmflow/crmflow/test/testenv"
)

func TestAPI(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "history API")
}

var (
	env        *envtest.Environment
	store      history.Store
	srv        *httptest.Server
	aliceToken string // may list workflowruns in tenant-a only
	bobToken   string // may list nothing
	t0         = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
)

var _ = BeforeSuite(func(ctx SpecContext) {
	testenv.SetEventuallyDefaults()
	By("starting an API server that authorizes with RBAC")
	env = testenv.New(filepath.Join("..", "..", ".."))
	env.ControlPlane.GetAPIServer().Configure().Set("authorization-mode", "RBAC")
	cfg, err := env.Start()
	Expect(err).NotTo(HaveOccurred())
	scheme, err := testenv.Scheme()
	Expect(err).NotTo(HaveOccurred())
	admin, err := client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	cs, err := kubernetes.NewForConfig(cfg)
	Expect(err).NotTo(HaveOccurred())

	By("giving alice list on workflowruns in tenant-a, and bob nothing")
	for _, ns := range []string{"tenant-a", "tenant-b"} {
		Expect(admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
	}
	Expect(admin.Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "run-reader", Namespace: "tenant-a"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"crmflow.io"}, Resources: []string{"workflowruns"}, Verbs: []string{"get", "list"}}},
	})).To(Succeed())
	Expect(admin.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "alice-reads-runs", Namespace: "tenant-a"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "run-reader"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "alice", Namespace: "tenant-a"}},
	})).To(Succeed())
	token := func(ns, name string) string {
		Expect(admin.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}})).To(Succeed())
		tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authnv1.TokenRequest{
			Spec: authnv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		return tr.Status.Token
	}
	aliceToken, bobToken = token("tenant-a", "alice"), token("tenant-b", "bob")

	By("filling a store with runs of both tenants")
	store, err = sqlstore.Open(ctx, filepath.Join(GinkgoT().TempDir(), "h.db"), sqlstore.Options{})
	Expect(err).NotTo(HaveOccurred())
	var runs []history.Run
	for i, ns := range []string{"tenant-a", "tenant-a", "tenant-b"} {
		runs = append(runs, history.Run{
			UID: fmt.Sprintf("u%d", i), Namespace: ns, Name: fmt.Sprintf("vip-%d", i), Workflow: "vip-routing",
			Subject: "c-42", EventSource: "crm", EventID: fmt.Sprintf("e%d", i), Phase: string(v1alpha1.RunSucceeded),
			Result: v1alpha1.ReasonGoalReached.String(), Created: t0.Add(time.Duration(i) * time.Hour), Finished: t0.Add(time.Duration(i) * time.Hour),
			Steps: []v1alpha1.StepStatus{{Name: "notify", Phase: v1alpha1.StepSucceeded}},
		})
	}
	runs = append(runs, history.Run{UID: "evil", Namespace: "tenant-a", Name: "vip-evil", Workflow: "vip-routing",
		Subject: "x' OR '1'='1", Phase: string(v1alpha1.RunFailed), Created: t0, Finished: t0})
	Expect(store.Archive(ctx, runs)).To(Succeed())
	_, err = store.RecordSkips(ctx, []history.Skip{{Namespace: "tenant-a", Workflow: "vip-routing", Reason: "ConditionsNotMet",
		EventID: "e-skipped", Subject: "c-42", Message: "contact is not tagged VIP", Time: t0}})
	Expect(err).NotTo(HaveOccurred())

	srv = httptest.NewTLSServer(api.NewServer(store, admin, api.Options{Clock: clock.RealClock{}, Log: GinkgoLogr}))
})

var _ = AfterSuite(func() {
	if srv != nil {
		srv.Close()
	}
	if store != nil {
		Expect(store.Close()).To(Succeed())
	}
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
})

type reply struct {
	code int
	body string
}

func get(token, path string) reply {
	req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	Expect(err).NotTo(HaveOccurred())
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	return reply{resp.StatusCode, string(b)}
}

var _ = Describe("tenant isolation through the API server's RBAC", func() {
	It("answers alice for tenant-a and refuses her tenant-b", func() {
		r := get(aliceToken, "/api/v1/namespaces/tenant-a/workflows/vip-routing/runs")
		Expect(r.code).To(Equal(http.StatusOK), r.body)
		var page history.RunPage
		Expect(json.Unmarshal([]byte(r.body), &page)).To(Succeed())
		Expect(page.Runs).To(HaveLen(3))
		for _, run := range page.Runs {
			Expect(run.Namespace).To(Equal("tenant-a"))
		}
		for _, path := range []string{
			"/api/v1/namespaces/tenant-b/workflows/vip-routing/runs",
			"/api/v1/namespaces/tenant-b/runs/vip-2",
			"/api/v1/namespaces/tenant-b/timeline?subject=c-42",
			"/api/v1/namespaces/tenant-b/skips?subject=c-42",
			"/api/v1/namespaces/tenant-b/workflows/vip-routing/analytics",
		} {
			r := get(aliceToken, path)
			Expect(r.code).To(Equal(http.StatusForbidden), path)
			Expect(r.body).NotTo(ContainSubstring("vip-2"))
		}
	})

	It("refuses a user with no grant, and requests without a valid token", func() {
		Expect(get(bobToken, "/api/v1/namespaces/tenant-b/workflows/vip-routing/runs").code).To(Equal(http.StatusForbidden))
		Expect(get("", "/api/v1/namespaces/tenant-a/workflows/vip-routing/runs").code).To(Equal(http.StatusUnauthorized))
		Expect(get("not-a-token", "/api/v1/namespaces/tenant-a/workflows/vip-routing/runs").code).To(Equal(http.StatusUnauthorized))
	})
})

var _ = Describe("the queries", func() {
	It("serves one run, a contact timeline, why an event did not enroll, and analytics", func() {
		r := get(aliceToken, "/api/v1/namespaces/tenant-a/runs/vip-1")
		Expect(r.code).To(Equal(http.StatusOK), r.body)
		Expect(r.body).To(ContainSubstring(`"uid":"u1"`))
		Expect(get(aliceToken, "/api/v1/namespaces/tenant-a/runs/nope").code).To(Equal(http.StatusNotFound))

		r = get(aliceToken, "/api/v1/namespaces/tenant-a/timeline?subject=c-42&limit=1")
		Expect(r.code).To(Equal(http.StatusOK), r.body)
		var page history.RunPage
		Expect(json.Unmarshal([]byte(r.body), &page)).To(Succeed())
		Expect(page.Runs).To(HaveLen(1))
		Expect(page.Runs[0].UID).To(Equal("u1"))
		Expect(page.Next).NotTo(BeEmpty())
		r = get(aliceToken, "/api/v1/namespaces/tenant-a/timeline?subject=c-42&limit=1&continue="+url.QueryEscape(page.Next))
		Expect(json.Unmarshal([]byte(r.body), &page)).To(Succeed())
		Expect(page.Runs[0].UID).To(Equal("u0"))

		r = get(aliceToken, "/api/v1/namespaces/tenant-a/skips?eventID=e-skipped")
		Expect(r.code).To(Equal(http.StatusOK), r.body)
		Expect(r.body).To(ContainSubstring("contact is not tagged VIP"))

		r = get(aliceToken, "/api/v1/namespaces/tenant-a/workflows/vip-routing/analytics?from=2026-11-01T00:00:00Z&to=2026-11-03T00:00:00Z")
		Expect(r.code).To(Equal(http.StatusOK), r.body)
		var stats history.Analytics
		Expect(json.Unmarshal([]byte(r.body), &stats)).To(Succeed())
		Expect(stats.Total.Enrolled).To(BeEquivalentTo(3))
		Expect(stats.Total.GoalReached).To(BeEquivalentTo(2))
	})

	It("answers hostile input with a clear 4xx and never shows the schema", func() {
		r := get(aliceToken, "/api/v1/namespaces/tenant-a/timeline?subject="+url.QueryEscape("x' OR '1'='1"))
		Expect(r.code).To(Equal(http.StatusOK))
		var page history.RunPage
		Expect(json.Unmarshal([]byte(r.body), &page)).To(Succeed())
		Expect(page.Runs).To(HaveLen(1), "the subject is a value, not SQL")
		Expect(page.Runs[0].UID).To(Equal("evil"))

		for path, want := range map[string]string{
			"/workflows/vip-routing/runs?limit=100000":                                      "limit",
			"/workflows/vip-routing/runs?limit=-1":                                          "limit",
			"/workflows/vip-routing/runs?limit=1e3":                                         "limit",
			"/workflows/vip-routing/runs?from=yesterday":                                    "from",
			"/workflows/vip-routing/runs?from=2026-11-03T00:00:00Z&to=2026-11-01T00:00:00Z": "before",
			"/workflows/vip-routing/runs?from=0001-01-01T00:00:00Z&to=2026-11-01T00:00:00Z": "1970",
			"/workflows/vip-routing/runs?from=2020-01-01T00:00:00Z&to=2026-11-01T00:00:00Z": "days",
			"/workflows/vip-routing/runs?phase=Running":                                     "phase",
			"/workflows/vip-routing/runs?continue=%27%3B%20DROP%20TABLE%20runs%3B--":        "continue",
			"/workflows/vip-routing/runs?subject=" + strings.Repeat("a", 600):               "subject",
			"/workflows/vip-routing/runs?order=uid%3BDROP":                                  "unknown parameter",
			"/workflows/vip-routing/runs?limit=1&limit=2":                                   "more than once",
			"/workflows/VIP%27--/runs":                                                      "workflow",
			"/timeline":                                                                     "subject",
			"/skips":                                                                        "required",
			"/workflows/vip-routing/analytics?from=2020-01-01T00:00:00Z":                    "days",
		} {
			r := get(aliceToken, "/api/v1/namespaces/tenant-a"+path)
			Expect(r.code).To(Equal(http.StatusBadRequest), path)
			Expect(r.body).To(ContainSubstring(want), path)
			expectNoSchema(r.body)
		}
		r = get(aliceToken, "/api/v1/namespaces/Tenant%27%3B--/workflows/vip-routing/runs")
		Expect(r.code).To(Equal(http.StatusBadRequest))
		Expect(r.body).To(ContainSubstring("namespace"))
	})
})

// send makes a request with a raw Authorization header and a path sent as
// written (its query string is not re-encoded).
func send(method, authorization, path string) (reply, http.Header) {
	req, err := http.NewRequest(method, srv.URL, nil)
	Expect(err).NotTo(HaveOccurred())
	req.URL.Opaque = "//" + req.URL.Host + path
	if i := strings.IndexByte(path, '?'); i >= 0 {
		req.URL.Opaque, req.URL.RawQuery = "//"+req.URL.Host+path[:i], path[i+1:]
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := srv.Client().Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	return reply{resp.StatusCode, string(b)}, resp.Header
}

var _ = Describe("strict input", func() {
	const ns = "/api/v1/namespaces/tenant-a"

	It("answers text the store cannot hold (NUL, invalid UTF-8) with a 400 naming the parameter", func() {
		for path, want := range map[string]string{
			"/timeline?subject=%00":                        "subject: contains a NUL byte",
			"/timeline?subject=a%00b":                      "subject: contains a NUL byte",
			"/timeline?subject=%FF%FE":                     "subject: not valid UTF-8",
			"/skips?eventID=a%00b":                         "eventID: contains a NUL byte",
			"/skips?subject=%FF":                           "subject: not valid UTF-8",
			"/workflows/vip-routing/runs?subject=%C3":      "subject: not valid UTF-8",
			"/workflows/vip-routing/runs?continue=MXwA":    "continue",
			"/workflows/vip-routing/runs?continue=%00":     "continue: contains a NUL byte",
			"/timeline?subject=c-42&continue=%FF":          "continue: not valid UTF-8",
			"/skips?workflow=%00":                          "workflow",
			"/workflows/vip-routing/runs?phase=%00":        "phase",
			"/workflows/vip-routing/analytics?from=%FF%00": "from",
		} {
			r := get(aliceToken, ns+path)
			Expect(r.code).To(Equal(http.StatusBadRequest), "%s: %s", path, r.body)
			Expect(r.body).To(ContainSubstring(want), "%s", path)
		}
	})

	It("bounds open-ended ranges to 400 days too, and checks years in UTC", func() {
		recent := url.QueryEscape(time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
		soon := url.QueryEscape(time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
		for _, path := range []string{
			"/workflows/vip-routing/runs?from=1970-01-01T00:00:00Z",
			"/workflows/vip-routing/runs?to=9999-12-31T23:59:59Z",
			"/timeline?subject=c-42&from=1970-01-01T00:00:00Z",
			"/timeline?subject=c-42&to=9999-12-31T23:59:59Z",
			"/skips?subject=c-42&from=1970-01-01T00:00:00Z",
			"/skips?subject=c-42&to=9999-12-31T23:59:59Z",
			"/workflows/vip-routing/analytics?to=9999-12-31T23:59:59Z",
		} {
			r := get(aliceToken, ns+path)
			Expect(r.code).To(Equal(http.StatusBadRequest), "%s: %s", path, r.body)
			Expect(r.body).To(ContainSubstring("days"), "%s", path)
		}
		r := get(aliceToken, ns+"/workflows/vip-routing/runs?from=1970-01-01T00:30:00%2B01:00&to=1970-01-02T00:00:00Z")
		Expect(r.code).To(Equal(http.StatusBadRequest), r.body)
		Expect(r.body).To(ContainSubstring("1970"))
		for _, path := range []string{
			"/workflows/vip-routing/runs?from=" + recent,
			"/workflows/vip-routing/runs?to=" + soon,
			"/timeline?subject=c-42&from=" + recent,
			"/skips?subject=c-42&to=" + soon,
			"/workflows/vip-routing/analytics?from=" + recent,
		} {
			r := get(aliceToken, ns+path)
			Expect(r.code).To(Equal(http.StatusOK), "%s: %s", path, r.body)
		}
	})

	It("refuses continue tokens it did not issue, or issued for another list", func() {
		r := get(aliceToken, ns+"/workflows/vip-routing/runs?limit=1")
		Expect(r.code).To(Equal(http.StatusOK), r.body)
		var page history.RunPage
		Expect(json.Unmarshal([]byte(r.body), &page)).To(Succeed())
		Expect(page.Next).NotTo(BeEmpty())
		r = get(aliceToken, ns+"/workflows/vip-routing/runs?limit=1&continue="+url.QueryEscape(page.Next))
		Expect(r.code).To(Equal(http.StatusOK), r.body)

		forge := func(raw string) string { return base64.RawURLEncoding.EncodeToString([]byte(raw)) }
		for _, path := range []string{
			"/workflows/vip-routing/runs?limit=1&continue=" + forge("9999999999999|zzzz"),
			"/workflows/vip-routing/runs?continue=" + url.QueryEscape(forge("1|' OR 1=1--")),
			"/timeline?subject=c-42&continue=" + url.QueryEscape(page.Next),
		} {
			r := get(aliceToken, ns+path)
			Expect(r.code).To(Equal(http.StatusBadRequest), "%s: %s", path, r.body)
			Expect(r.body).To(ContainSubstring("continue: not a token this server issued"), "%s", path)
		}
	})

	It("says a malformed query string is malformed, refuses non-canonical numbers, and answers other methods 405", func() {
		for path, want := range map[string]string{
			"/timeline?subject=c-x;limit=1":           "query string is malformed",
			"/timeline?subject=%zz":                   "query string is malformed",
			"/workflows/vip-routing/runs?limit=%":     "query string is malformed",
			"/runs/vip-1?foo=bar&limit=-1":            "unknown parameter",
			"/workflows/vip-routing/runs?limit=%2B5":  "limit",
			"/workflows/vip-routing/runs?limit=05":    "limit",
			"/workflows/vip-routing/analytics?x=1":    "unknown parameter",
			"/skips?subject=c-42&subject=c-43":        "more than once",
			"/workflows/vip-routing/runs?limit=1&=no": "unknown parameter",
		} {
			r, _ := send(http.MethodGet, "Bearer "+aliceToken, ns+path)
			Expect(r.code).To(Equal(http.StatusBadRequest), "%s: %s", path, r.body)
			Expect(r.body).To(ContainSubstring(want), "%s", path)
		}
		for _, path := range []string{"/timeline?subject=c-42", "/runs/vip-1", "/workflows/vip-routing/runs"} {
			r, h := send(http.MethodPost, "Bearer "+aliceToken, ns+path)
			Expect(r.code).To(Equal(http.StatusMethodNotAllowed), "%s", path)
			Expect(h.Get("Allow")).To(Equal("GET, HEAD"))
		}
		r, _ := send(http.MethodPost, "Bearer "+aliceToken, "/api/v1/nothing")
		Expect(r.code).To(Equal(http.StatusNotFound))
	})

	It("matches the Bearer scheme case-insensitively", func() {
		for _, scheme := range []string{"Bearer", "bearer", "BEARER", "bEaReR"} {
			r, _ := send(http.MethodGet, scheme+" "+aliceToken, ns+"/timeline?subject=c-42")
			Expect(r.code).To(Equal(http.StatusOK), scheme)
		}
		for _, auth := range []string{"Basic " + aliceToken, "Bearer", "Bearer ", "Bearerx " + aliceToken, aliceToken} {
			r, _ := send(http.MethodGet, auth, ns+"/timeline?subject=c-42")
			Expect(r.code).To(Equal(http.StatusUnauthorized), auth)
		}
	})
})

var _ = Describe("a failing store", func() {
	It("answers 503 without the store's error text", func(ctx SpecContext) {
		broken, err := sqlstore.Open(ctx, filepath.Join(GinkgoT().TempDir(), "b.db"), sqlstore.Options{})
		Expect(err).NotTo(HaveOccurred())
		Expect(broken.Close()).To(Succeed())
		cfg := env.Config
		scheme, err := testenv.Scheme()
		Expect(err).NotTo(HaveOccurred())
		admin, err := client.New(cfg, client.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())
		s := httptest.NewTLSServer(api.NewServer(broken, admin, api.Options{Log: GinkgoLogr}))
		defer s.Close()
		req, err := http.NewRequest(http.MethodGet, s.URL+"/api/v1/namespaces/tenant-a/workflows/vip-routing/runs", nil)
		Expect(err).NotTo(HaveOccurred())
		req.Header.Set("Authorization", "Bearer "+aliceToken)
		resp, err := s.Client().Do(req)
		Expect(err).NotTo(HaveOccurred())
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		Expect(resp.StatusCode).To(Equal(http.StatusServiceUnavailable))
		expectNoSchema(string(b))
		Expect(string(b)).NotTo(ContainSubstring("closed"))
	})
})

var _ = Describe("the HTTPS listener", func() {
	It("serves the API over TLS until stopped", func(ctx SpecContext) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		addr := l.Addr().String()
		Expect(l.Close()).To(Succeed())
		lctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			done <- (&api.Listener{Addr: addr, Server: api.NewServer(store, nil, api.Options{})}).Start(lctx)
		}()
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // self-signed test certificate
		Eventually(func() (int, error) {
			resp, err := c.Get("https://" + addr + "/healthz")
			if err != nil {
				return 0, err
			}
			_ = resp.Body.Close()
			return resp.StatusCode, nil
		}).Should(Equal(http.StatusOK))
		cancel()
		Eventually(done).Should(Receive(BeNil()))
	})
})

func expectNoSchema(body string) {
	GinkgoHelper()
	lower := strings.ToLower(body)
	for _, leak := range []string{"select", "sql", "table", "column", "event_keys", "created_ms", "syntax", "database"} {
		Expect(lower).NotTo(ContainSubstring(leak))
	}
}
