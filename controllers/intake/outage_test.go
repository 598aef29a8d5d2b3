//go:build !unit

package intake_test

import (
	"fmt"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/test/fixture"
)

var _ = Describe("an unreachable API server", func() {
	It("answers 503 with Retry-After, and the events re-sent afterwards enroll once each", func() {
		ns := createNamespace("outage")
		wf := installWorkflow(ns, fixture.MustSample(GinkgoT(), "negative-sentiment"))
		sad := func(i int) obj {
			return obj{"message": obj{"contactId": fmt.Sprint("c-", i), "sentiment": obj{"score": 0.01}}}
		}
		postUntilMatched(ns, event("before", "message.received", "", sad(0)), wf.Name)

		proxy.Down()
		DeferCleanup(proxy.Up)
		for i := 1; i <= 3; i++ {
			r := post(ns, event(fmt.Sprint("during-", i), "message.received", "", sad(i)))
			Expect(r.Status).To(Equal(http.StatusServiceUnavailable), r.Raw)
			Expect(r.RetryAfter).To(Equal("1"))
			Expect(r.Error).To(ContainSubstring("retry later"))
		}
		proxy.Up()

		for i := 1; i <= 3; i++ {
			e := event(fmt.Sprint("during-", i), "message.received", "", sad(i))
			Eventually(func() int { return post(ns, e).Status }).WithTimeout(60 * time.Second).Should(Equal(http.StatusAccepted))
			// A second re-send is a duplicate.
			Expect(post(ns, e).First().Skipped).To(ConsistOf(HaveField("Reason", v1alpha1.SkipDuplicate)))
		}
		runs := runsOf(ns, wf.Name)
		Expect(runs).To(HaveLen(4))
		ids := map[string]int{}
		for _, r := range runs {
			ids[r.Spec.Event.ID]++
		}
		Expect(ids).To(Equal(map[string]int{"before": 1, "during-1": 1, "during-2": 1, "during-3": 1}))
	})
})
