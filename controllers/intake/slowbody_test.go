//go:build !unit

package intake_test

import (
	"io"
	"time"

	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/crmflow/crmflow/test/fixture"
)

var _ = Describe("a slow upload", func() {
	It("is enrolled when its body takes longer than the request timeout to arrive", func() {
		ns := createNamespace("slow")
		wf := installWorkflow(ns, fixture.MustSample(GinkgoT(), "vip-routing"))
		vip := obj{"conversation": obj{"contactId": "c-slow"}, "contact": obj{"tags": []string{"VIP"}}}
		postUntilMatched(ns, event("slow-warm-up", "conversation.started", "", obj{"conversation": obj{"contactId": "c-warm"}, "contact": obj{"tags": []string{"VIP"}}}), wf.Name)

		req, err := cehttp.NewHTTPRequestFromEvent(ctx, eventsURL(ns), event("slow-1", "conversation.started", "", vip))
		Expect(err).NotTo(HaveOccurred())
		body, err := io.ReadAll(req.Body)
		Expect(err).NotTo(HaveOccurred())
		pr, pw := io.Pipe()
		req.Body, req.ContentLength, req.GetBody = pr, -1, nil
		go func() {
			defer GinkgoRecover()
			_, _ = pw.Write(body[:len(body)/2])
			time.Sleep(4 * time.Second) // the suite's RequestTimeout is 3s
			_, _ = pw.Write(body[len(body)/2:])
			_ = pw.Close()
		}()
		r := do(req)
		Expect(r.Status).To(Equal(202), r.Raw)
		Expect(r.First().Enrolled).To(HaveLen(1))
	})
})
