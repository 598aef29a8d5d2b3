//go:build !unit

package intake_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/controllers/intake/request"
	"github.com/crmflow/crmflow/runner/cloudevents"
	"github.com/crmflow/crmflow/test/fixture"
)

// hostileCase is one file of testdata/hostile: a request and what the
// receiver must answer. The file starts with "# key: value" lines
//
//	# namespace: open | secured | misspelt | empty | delayed | unknown
//	# expect: <status> [<text the error message must contain>]
//	# path: <path template> (default /v1/namespaces/<ns>/events)
//	# sign: <offset from now, e.g. 0s, -10m> (sign with the secured key)
//	# after-sign: <Header: value> (set after signing: a replay; empty value deletes)
//	# after-sign-body: <body> (sent instead of the signed body)
//	# pending: <who fixes it> (skipped until the fix lands)
//
// then the method, the headers, a blank line and the body. Headers and body
// are Go templates: {{id}} is a unique event id, {{repeat "x" 9000}} and
// {{seq 3}} build large inputs.
type hostileCase struct {
	name, namespace, method, path string
	header                        http.Header
	body                          []byte
	status                        int
	message                       string
	sign                          *time.Duration
	afterSign                     [][2]string
	afterSignBody                 []byte
	pending                       string
}

func loadHostile(path string) hostileCase {
	raw, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	name := strings.TrimSuffix(filepath.Base(path), ".http")
	funcs := template.FuncMap{
		"id":     func() string { return "hostile-" + name },
		"repeat": strings.Repeat,
		"seq": func(n int) []int {
			s := make([]int, n)
			for i := range s {
				s[i] = i
			}
			return s
		},
	}
	c := hostileCase{name: name, header: http.Header{}}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	section := 0 // 0 directives, 1 headers, 2 body
	var body strings.Builder
	render := func(s string) string {
		t, err := template.New(name).Funcs(funcs).Parse(s)
		Expect(err).NotTo(HaveOccurred(), name)
		var b strings.Builder
		Expect(t.Execute(&b, nil)).To(Succeed(), name)
		return b.String()
	}
	for sc.Scan() {
		line := sc.Text()
		switch section {
		case 0:
			if kv, ok := strings.CutPrefix(line, "# "); ok {
				k, v, _ := strings.Cut(kv, ": ")
				switch k {
				case "namespace":
					c.namespace = v
				case "expect":
					code, msg, _ := strings.Cut(v, " ")
					c.status, err = strconv.Atoi(code)
					Expect(err).NotTo(HaveOccurred(), name)
					c.message = msg
				case "path":
					c.path = v
				case "sign":
					d, err := time.ParseDuration(v)
					Expect(err).NotTo(HaveOccurred(), name)
					c.sign = &d
				case "after-sign":
					hk, hv, _ := strings.Cut(v, ":")
					c.afterSign = append(c.afterSign, [2]string{hk, strings.TrimSpace(hv)})
				case "after-sign-body":
					c.afterSignBody = []byte(v)
				case "pending":
					c.pending = v
				}
				continue
			}
			c.method, section = strings.TrimSpace(line), 1
		case 1:
			if line == "" {
				section = 2
				continue
			}
			k, v, ok := strings.Cut(render(line), ":")
			Expect(ok).To(BeTrue(), "%s: header line %q", name, line)
			c.header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
		case 2:
			if body.Len() > 0 {
				body.WriteByte('\n')
			}
			body.WriteString(line)
		}
	}
	Expect(sc.Err()).NotTo(HaveOccurred())
	Expect(c.status).NotTo(BeZero(), "%s: no # expect line", name)
	c.body = []byte(render(body.String()))
	return c
}

var _ = Describe("the hostile-input corpus (testdata/hostile)", Ordered, func() {
	const token = "t0ken-for-tests"
	hmacKey := []byte("hmac-key-for-tests")
	namespaces := map[string]string{"unknown": "no-such-namespace-hostile"}
	files, err := filepath.Glob(filepath.Join("testdata", "hostile", "*.http"))
	if err != nil || len(files) == 0 {
		panic(fmt.Sprintf("no hostile corpus: %v", err))
	}

	secret := func(ns string, data map[string][]byte) {
		Expect(k8sClient.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: request.SecretName}, Data: data,
		})).To(Succeed())
	}
	BeforeAll(func() {
		for _, n := range []string{"open", "secured", "misspelt", "empty", "delayed"} {
			namespaces[n] = createNamespace("hostile-" + n)
			installWorkflow(namespaces[n], fixture.MustSample(GinkgoT(), "vip-routing"), func(wf *v1alpha1.Workflow) {
				if n == "delayed" {
					d := v1alpha1.Duration("1h")
					wf.Spec.Trigger.Event.Delay = &d
				}
			})
		}
		secret(namespaces["secured"], map[string][]byte{request.TokenKey: []byte(token), request.HMACKey: hmacKey})
		secret(namespaces["misspelt"], map[string][]byte{"Token": []byte(token), "hmac-key": hmacKey})
		secret(namespaces["empty"], map[string][]byte{request.TokenKey: {}, request.HMACKey: []byte(" \n")})
		// The receiver's caches see the workflows and Secrets: the
		// positive control of the secured namespace enrolls.
		Eventually(func() int {
			body := []byte(`{"specversion":"1.0","id":"warm-up","source":"crm","type":"conversation.started","data":{"contact":{"tags":["VIP"]}}}`)
			return postRaw(namespaces["secured"], "POST", cloudevents.StructuredJSON, body, "Authorization", "Bearer "+token).Status
		}).Should(Equal(http.StatusAccepted))
		Eventually(func() int {
			return postRaw(namespaces["misspelt"], "POST", cloudevents.StructuredJSON, []byte("{}")).Status
		}).Should(Equal(http.StatusUnauthorized))
	})

	It("covers every receiver item of issue 10 and what badinput_test covered, with positive controls", func() {
		items := map[string]int{}
		accepted := 0
		for _, f := range files {
			c := loadHostile(f)
			raw, _ := os.ReadFile(f)
			for _, l := range strings.Split(string(raw), "\n") {
				if it, ok := strings.CutPrefix(l, "# item: "); ok {
					items[it]++
				}
			}
			if c.status == http.StatusAccepted {
				accepted++
			}
		}
		Expect(items).To(HaveKey("existing"))
		for _, it := range []string{"1", "2", "3", "4", "12"} {
			Expect(items).To(HaveKey(it), "item %s", it)
		}
		Expect(accepted).To(BeNumerically(">=", 5))
		Expect(len(files)).To(BeNumerically(">=", 50))
	})

	for _, f := range files {
		It("answers "+strings.TrimSuffix(filepath.Base(f), ".http"), func() {
			c := loadHostile(f)
			if c.pending != "" {
				Skip("pending " + c.pending)
			}
			ns, ok := namespaces[c.namespace]
			Expect(ok).To(BeTrue(), "%s: unknown namespace %q", c.name, c.namespace)
			path := fmt.Sprintf("/v1/namespaces/%s/events", ns)
			if c.path != "" {
				path = strings.ReplaceAll(c.path, "{{ns}}", ns)
			}
			body := c.body
			if c.sign != nil {
				cloudevents.Sign(hmacKey, time.Now().Add(*c.sign), c.header, body)
			}
			for _, kv := range c.afterSign {
				if kv[1] == "" {
					c.header.Del(kv[0])
				} else {
					c.header.Set(kv[0], kv[1])
				}
			}
			if c.afterSignBody != nil {
				body = c.afterSignBody
			}
			before := 0
			if c.namespace != "unknown" {
				before = len(allRuns(ns))
			}
			req, err := http.NewRequestWithContext(ctx, c.method, baseURL+path, bytes.NewReader(body))
			Expect(err).NotTo(HaveOccurred())
			req.Header = c.header
			r := do(req)
			Expect(r.Status).To(Equal(c.status), "%s: %s", c.name, r.Raw)
			Expect(r.Error).To(ContainSubstring(c.message), "%s: %s", c.name, r.Raw)
			if c.status != http.StatusAccepted && c.namespace != "unknown" {
				Consistently(func() int { return len(allRuns(ns)) }).WithTimeout(300*time.Millisecond).
					Should(Equal(before), "%s: a refused request created a run", c.name)
			}
		})
	}

	It("raises a Warning Event on a crmflow-intake Secret that yields no credential", func() {
		for _, n := range []string{"misspelt", "empty"} {
			Eventually(func(g Gomega) {
				var list eventsv1.EventList
				g.Expect(k8sClient.List(ctx, &list, client.InNamespace(namespaces[n]))).To(Succeed())
				var reasons []string
				for _, e := range list.Items {
					if e.Regarding.Kind == "Secret" && e.Regarding.Name == request.SecretName && e.Type == corev1.EventTypeWarning {
						reasons = append(reasons, e.Reason+": "+e.Note)
					}
				}
				g.Expect(reasons).To(ContainElement(And(HavePrefix(v1alpha1.ReasonUnusableCredential.String()), ContainSubstring("refuses every event"))))
			}).Should(Succeed(), n)
		}
	})
})
