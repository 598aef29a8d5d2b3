//go:build !unit

package intake_test

import (
	"fmt"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/crmflow/crmflow/runner/cloudevents"
	"github.com/crmflow/crmflow/test/fixture"
)

// Events that can never be stored are answered 400 naming the attribute,
// never 503 (a sender would retry them for ever), and a batch holding one is
// refused whole with nothing persisted.
var _ = Describe("poison events", Ordered, func() {
	var ns string
	structured := func(id, timeAttr, data string) string {
		t := ""
		if timeAttr != "" {
			t = fmt.Sprintf(`,"time":%q`, timeAttr)
		}
		return fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"crm","type":"conversation.started","datacontenttype":"application/json"%s,"data":%s}`, id, t, data)
	}
	vip := `{"conversation":{"contactId":"c-1"},"contact":{"tags":["VIP"]}}`

	BeforeAll(func() {
		ns = createNamespace("poison")
		installWorkflow(ns, fixture.MustSample(GinkgoT(), "vip-routing"))
		Eventually(func() int {
			return len(postRaw(ns, "POST", cloudevents.StructuredJSON, []byte(structured("ok-0", "", vip))).First().Enrolled)
		}).Should(Equal(1))
	})

	DescribeTable("is refused with 400 naming the attribute, on every resend",
		func(body, wantInMessage string) {
			for range 2 {
				r := postRaw(ns, "POST", cloudevents.StructuredJSON, []byte(body))
				Expect(r.Status).To(Equal(http.StatusBadRequest), r.Raw)
				Expect(r.Error).To(ContainSubstring(wantInMessage), r.Raw)
				Expect(r.RetryAfter).To(BeEmpty())
			}
		},
		Entry("a time past the year 9999 in UTC", structured("p-1", "9999-12-31T23:59:59-10:00", vip), `"time"`),
		Entry("a time far in the future", structured("p-2", time.Now().Add(48*time.Hour).UTC().Format(time.RFC3339), vip), "ahead of this receiver's clock"),
		Entry("a time far in the past", structured("p-3", "2001-01-01T00:00:00Z", vip), "old"),
		Entry("data that is an array", structured("p-4", "", `[1,2]`), `"data" must be a JSON object`),
		Entry("data that is a string", structured("p-5", "", `"hi"`), `"data" must be a JSON object`),
	)

	It("refuses a batch with one poison event whole, persisting none of it", func() {
		batch := fmt.Sprintf("[%s,%s]", structured("good-1", "", vip), structured("bad-1", "", `[1]`))
		r := postRaw(ns, "POST", cloudevents.BatchJSON, []byte(batch))
		Expect(r.Status).To(Equal(http.StatusBadRequest), r.Raw)
		Expect(r.Error).To(ContainSubstring(`event 1 of the batch (id "bad-1")`))
		for _, run := range runsOf(ns, "vip-routing") {
			Expect(run.Spec.Event.ID).NotTo(Equal("good-1"), "nothing of a refused batch is persisted")
		}
		// The good event alone is accepted.
		Expect(postRaw(ns, "POST", cloudevents.StructuredJSON, []byte(structured("good-1", "", vip))).First().Enrolled).To(HaveLen(1))
	})

	It("accepts an event whose time is within the bounds", func() {
		r := postRaw(ns, "POST", cloudevents.StructuredJSON, []byte(structured("recent-1", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), vip)))
		Expect(r.Status).To(Equal(http.StatusAccepted), r.Raw)
		Expect(r.First().Enrolled).To(HaveLen(1))
	})
})
