package intake_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/crmflow/crmflow/controllers/intake/request"
)

var _ = Describe("bad and hostile requests", Ordered, func() {
	var open, secured string
	const token = "t0ken-for-tests"
	hmacKey := []byte("hmac-key-for-tests")
	validBody := func(id string) []byte {
		return []byte(fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"crm","type":"conversation.started","datacontenttype":"application/json","data":{"conversation":{"contactId":"c-1"},"contact":{"tags":["VIP"]}}}`, id))
	}

	BeforeAll(func() {
		open = createNamespace("bad")
		secured = createNamespace("secured")
		installWorkflow(open, sample("vip-routing"))
		installWorkflow(secured, sample("vip-routing"))
		Expect(k8sClient.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: secured, Name: request.SecretName},
			Data:       map[string][]byte{request.TokenKey: []byte(token), request.HMACKey: hmacKey},
		})).To(Succeed())
		// Positive controls: the same kind of request is accepted and enrols,
		// so the refusals below are refusals of the fault, not of everything.
		Eventually(func() int {
			return len(postRaw(open, "POST", request.StructuredJSON, validBody("ok-1")).First().Enrolled)
		}).Should(Equal(1))
		Eventually(func() int {
			return postRaw(secured, "POST", request.StructuredJSON, validBody("ok-2"), "Authorization", "Bearer "+token).Status
		}).Should(Equal(202))
		Expect(postRaw(secured, "POST", request.StructuredJSON, validBody("ok-3"), request.SignatureHeader, request.Sign(hmacKey, validBody("ok-3"))).Status).To(Equal(202))
	})

	type hostile struct {
		ns, method, contentType string
		body                    []byte
		headers                 []string
		status                  int
		message                 string
	}
	ce := func(kv ...string) []string {
		return append([]string{"Ce-Specversion", "1.0", "Ce-Id", "b-1", "Ce-Source", "crm", "Ce-Type", "conversation.started"}, kv...)
	}
	var batch101 bytes.Buffer
	batch101.WriteString("[")
	for i := range 101 {
		if i > 0 {
			batch101.WriteString(",")
		}
		fmt.Fprintf(&batch101, `{"specversion":"1.0","id":"b%d","source":"crm","type":"x"}`, i)
	}
	batch101.WriteString("]")

	cases := map[string]func() hostile{
		"GET": func() hostile { return hostile{open, "GET", "", nil, nil, 405, "method GET not allowed"} },
		"PUT": func() hostile {
			return hostile{open, "PUT", request.StructuredJSON, validBody("p"), nil, 405, "method PUT not allowed"}
		},
		"unknown namespace": func() hostile {
			return hostile{"no-such-ns", "POST", request.StructuredJSON, validBody("u"), nil, 404, `namespace "no-such-ns" not found`}
		},
		"missing credential": func() hostile {
			return hostile{secured, "POST", request.StructuredJSON, validBody("m"), nil, 401, "requires a credential"}
		},
		"wrong bearer token": func() hostile {
			return hostile{secured, "POST", request.StructuredJSON, validBody("w"), []string{"Authorization", "Bearer nope"}, 403, "credential rejected"}
		},
		"signature of another body": func() hostile {
			return hostile{secured, "POST", request.StructuredJSON, validBody("s"), []string{request.SignatureHeader, request.Sign(hmacKey, []byte("other"))}, 403, "does not match the body"}
		},
		"malformed signature": func() hostile {
			return hostile{secured, "POST", request.StructuredJSON, validBody("s2"), []string{request.SignatureHeader, "md5=abc"}, 403, "sha256=<hex>"}
		},
		"plain text": func() hostile {
			return hostile{open, "POST", "text/plain", []byte("hello"), nil, 415, "not a CloudEvent"}
		},
		"no content type": func() hostile { return hostile{open, "POST", "", []byte("{}"), nil, 415, "not a CloudEvent"} },
		"avro format": func() hostile {
			return hostile{open, "POST", "application/cloudevents+avro", []byte("x"), nil, 415, "unsupported CloudEvents format"}
		},
		"truncated JSON": func() hostile {
			return hostile{open, "POST", request.StructuredJSON, []byte(`{"specversion":"1.0","id":`), nil, 400, "malformed CloudEvent JSON"}
		},
		"JSON array single": func() hostile {
			return hostile{open, "POST", request.StructuredJSON, []byte(`[1,2]`), nil, 400, "not a JSON object"}
		},
		"missing id": func() hostile {
			return hostile{open, "POST", request.StructuredJSON, []byte(`{"specversion":"1.0","source":"crm","type":"conversation.started"}`), nil, 400, `missing required attribute "id"`}
		},
		"missing source and type": func() hostile {
			return hostile{open, "POST", request.StructuredJSON, []byte(`{"specversion":"1.0","id":"x"}`), nil, 400, `missing required attribute "source"; missing required attribute "type"`}
		},
		"missing specversion": func() hostile {
			return hostile{open, "POST", request.StructuredJSON, []byte(`{"id":"x","source":"crm","type":"t"}`), nil, 400, `missing required attribute "specversion"`}
		},
		"specversion 0.3": func() hostile {
			return hostile{open, "POST", request.StructuredJSON, []byte(`{"specversion":"0.3","id":"x","source":"crm","type":"t"}`), nil, 400, `unsupported specversion "0.3"`}
		},
		"binary specversion 2.0": func() hostile {
			return hostile{open, "POST", "application/json", []byte(`{}`), []string{"Ce-Specversion", "2.0", "Ce-Id", "x", "Ce-Source", "s", "Ce-Type", "t"}, 400, `unsupported specversion "2.0"`}
		},
		"binary missing type": func() hostile {
			return hostile{open, "POST", "application/json", []byte(`{}`), []string{"Ce-Specversion", "1.0", "Ce-Id", "x", "Ce-Source", "s"}, 400, `missing required attribute "type"`}
		},
		"binary bad time": func() hostile {
			return hostile{open, "POST", "application/json", []byte(`{}`), ce("Ce-Time", "yesterday"), 400, "malformed binary-mode CloudEvent"}
		},
		"non-JSON data declared JSON": func() hostile {
			return hostile{open, "POST", "application/json", []byte(`{"contact": nope}`), ce(), 400, "data is not valid JSON"}
		},
		"XML data": func() hostile {
			return hostile{open, "POST", "application/xml", []byte(`<contact/>`), ce(), 415, `datacontenttype "application/xml"`}
		},
		"oversized body": func() hostile {
			return hostile{open, "POST", "application/json", []byte(`{"pad":"` + strings.Repeat("x", 70<<10) + `"}`), ce(), 413, "the limit is 65536 bytes"}
		},
		"batch that is an object": func() hostile {
			return hostile{open, "POST", request.BatchJSON, []byte(`{"id":"x"}`), nil, 400, "batch: body is not a JSON array"}
		},
		"empty batch": func() hostile {
			return hostile{open, "POST", request.BatchJSON, []byte(`[]`), nil, 400, "batch: empty"}
		},
		"batch with a bad event": func() hostile {
			return hostile{open, "POST", request.BatchJSON, []byte(`[` + string(validBody("good-in-batch")) + `,{"specversion":"1.0","id":"y","source":"crm"}]`), nil, 400, `batch[1]: invalid CloudEvent: missing required attribute "type"`}
		},
		"batch of 101": func() hostile {
			return hostile{open, "POST", request.BatchJSON, batch101.Bytes(), nil, 413, "101 events; the limit is 100"}
		},
		"bad hop counter": func() hostile {
			return hostile{open, "POST", "application/json", []byte(`{}`), ce("Ce-Crmflowhops", "-1"), 400, "crmflowhops"}
		},
		"over-long id": func() hostile {
			return hostile{open, "POST", "application/json", []byte(`{}`), []string{"Ce-Specversion", "1.0", "Ce-Id", strings.Repeat("i", 300), "Ce-Source", "s", "Ce-Type", "conversation.started"}, 400, `attribute "id" is 300 characters; the limit is 256`}
		},
	}

	It("has at least twenty cases", func() { Expect(len(cases)).To(BeNumerically(">=", 20)) })

	for name, mk := range cases {
		It("refuses "+name+" with a clear message and creates nothing", func() {
			h := mk()
			r := postRaw(h.ns, h.method, h.contentType, h.body, h.headers...)
			Expect(r.Status).To(Equal(h.status), r.Raw)
			Expect(r.Error).To(ContainSubstring(h.message), r.Raw)
			if h.status == http.StatusMethodNotAllowed {
				Expect(r.Raw).To(ContainSubstring(`"error"`))
			}
		})
	}

	AfterAll(func() {
		// Only the three positive controls enrolled; the receiver still answers.
		Expect(runsOf(open, "vip-routing")).To(HaveLen(1))
		Expect(runsOf(secured, "vip-routing")).To(HaveLen(2))
		Expect(postRaw(open, "POST", request.StructuredJSON, validBody("ok-1")).Status).To(Equal(202))
	})
})
