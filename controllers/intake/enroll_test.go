//go:build !unit

package intake_test

import (
	"fmt"
	"sync"
	"time"

	ce "github.com/cloudevents/sdk-go/v2/event"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/controllers/intake"
	"github.com/crmflow/crmflow/test/fixture"
)

var _ = Describe("exactly-once enrollment", func() {
	It("enrolls one run for the same event delivered three times, in turn and at once", func() {
		ns := createNamespace("dup")
		wf := installWorkflow(ns, fixture.MustSample(GinkgoT(), "negative-sentiment")) // Always/Allow: only the run name dedupes
		sad := func(id string) obj {
			return obj{"message": obj{"id": id, "contactId": "c-1", "sentiment": obj{"score": 0.05}}}
		}
		e := event("dup-1", "message.received", "", sad("dup-1"))
		postUntilMatched(ns, e, wf.Name)
		for range 2 {
			r := post(ns, e)
			Expect(r.Status).To(Equal(202))
			Expect(r.First().Skipped).To(ConsistOf(HaveField("Reason", v1alpha1.SkipDuplicate)))
		}
		Expect(runsOf(ns, wf.Name)).To(HaveLen(1))

		concurrent := event("dup-2", "message.received", "", sad("dup-2"))
		var wg sync.WaitGroup
		statuses := make([]int, 3)
		for i := range 3 {
			wg.Add(1)
			go func() {
				defer GinkgoRecover()
				defer wg.Done()
				statuses[i] = post(ns, concurrent).Status
			}()
		}
		wg.Wait()
		Expect(statuses).To(HaveEach(202))
		Expect(runsOf(ns, wf.Name)).To(HaveLen(2))
		Eventually(skipCount(ns, wf.Name, v1alpha1.SkipDuplicate)).Should(HaveField("Count", BeEquivalentTo(4)))
	})

	It("does not count the runs of a deleted Workflow against one created again under its name", func() {
		ns := createNamespace("recreate")
		first := installWorkflow(ns, fixture.MustSample(GinkgoT(), "lead-follow-up")) // AfterExit/Forbid
		lead := func(id string) ce.Event {
			return event(id, "lead.created", "", obj{"lead": obj{"id": id, "source": "Website", "contactId": "c-again"}})
		}
		postUntilMatched(ns, lead("l-1"), first.Name)
		// No garbage collector runs here (as in the local start): the run
		// of the deleted workflow stays, not yet admitted, so active.
		Expect(k8sClient.Delete(ctx, first)).To(Succeed())
		second := installWorkflow(ns, fixture.MustSample(GinkgoT(), "lead-follow-up"))
		Eventually(func(g Gomega) {
			r := post(ns, lead("l-2"))
			g.Expect(r.Status).To(Equal(202), r.Raw)
			g.Expect(r.First().Enrolled).To(HaveLen(1), "skipped for the deleted workflow's run: %s", r.Raw)
		}).Should(Succeed())
		runs := runsOf(ns, second.Name)
		Expect(runs).To(HaveLen(2))
	})

	It("acknowledges 50 events for one subject at once under Forbid, then skips while the admitted run is active", func() {
		ns := createNamespace("burst")
		wf := installWorkflow(ns, fixture.MustSample(GinkgoT(), "lead-follow-up")) // AfterExit/Forbid
		lead := func(i int) obj {
			return obj{"lead": obj{"id": fmt.Sprint("l-", i), "source": "Website", "contactId": "c-burst"}}
		}
		// Wait until the receiver knows the workflow with an event for another subject.
		postUntilMatched(ns, event("warm-up", "lead.created", "", obj{"lead": obj{"source": "Website", "contactId": "c-other"}}), wf.Name)

		var wg sync.WaitGroup
		statuses := make([]int, 50)
		for i := range 50 {
			wg.Add(1)
			go func() {
				defer GinkgoRecover()
				defer wg.Done()
				statuses[i] = post(ns, event(fmt.Sprint("burst-", i), "lead.created", "", lead(i))).Status
			}()
		}
		wg.Wait()
		// One replica: the per-subject lock and the runs it just created make
		// the first event enroll and the other 49 skip, although the cache has
		// not seen the new run yet (across replicas the run controller's
		// admission decides; test/e2e).
		Expect(statuses).To(HaveEach(202))
		var burst []v1alpha1.WorkflowRun
		for _, r := range runsOf(ns, wf.Name) {
			if r.Spec.Subject == "c-burst" {
				burst = append(burst, r)
			}
		}
		Expect(burst).To(HaveLen(1))
		Eventually(skipCount(ns, wf.Name, v1alpha1.SkipActiveRun)).Should(HaveField("Count", BeEquivalentTo(49)))

		// Once the run controller admitted one, intake skips from its cache, confirmed live.
		admitted := burst[0].DeepCopy()
		admitted.Status.Phase = v1alpha1.RunRunning
		Expect(k8sClient.Status().Update(ctx, admitted)).To(Succeed())
		attempt := 0
		Eventually(func() []intake.Skip {
			attempt++ // a new event each time: an attempt before the cache saw the admission creates a run
			return post(ns, event(fmt.Sprint("while-active-", attempt), "lead.created", "", lead(98))).First().Skipped
		}).Should(ConsistOf(HaveField("Reason", v1alpha1.SkipActiveRun)))

		// Once that run finished, AfterExit lets the subject enroll again.
		for i := range burst {
			done := &v1alpha1.WorkflowRun{}
			Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: burst[i].Name}, done)).To(Succeed())
			done.Status.Phase = v1alpha1.RunSucceeded
			Expect(k8sClient.Status().Update(ctx, done)).To(Succeed())
		}
		Eventually(func() int {
			return len(post(ns, event("after-exit", "lead.created", "", lead(99))).First().Enrolled)
		}).Should(Equal(1))
	})

	It("enrolls one run for a batch of events for one subject under Forbid, and says so", func() {
		ns := createNamespace("batch-forbid")
		wf := installWorkflow(ns, fixture.MustSample(GinkgoT(), "lead-follow-up")) // AfterExit/Forbid
		lead := func(i int) obj {
			return obj{"lead": obj{"id": fmt.Sprint("l-", i), "source": "Website", "contactId": "c-batch"}}
		}
		postUntilMatched(ns, event("warm-up", "lead.created", "", obj{"lead": obj{"source": "Website", "contactId": "c-other"}}), wf.Name)
		var batch []ce.Event
		for i := range 5 {
			batch = append(batch, event(fmt.Sprint("batch-", i), "lead.created", "", lead(i)))
		}
		r := postBatch(ns, batch...)
		Expect(r.Status).To(Equal(202))
		var enrolled, skipped []string
		for _, ev := range r.Answer.Events {
			for _, e := range ev.Enrolled {
				enrolled = append(enrolled, e.Run)
			}
			for _, sk := range ev.Skipped {
				Expect(sk.Reason).To(Equal(v1alpha1.SkipActiveRun), sk.Message)
				Expect(sk.Message).To(ContainSubstring("not admitted yet; concurrency is Forbid"))
				skipped = append(skipped, sk.Reason.String())
			}
		}
		Expect(enrolled).To(HaveLen(1))
		Expect(skipped).To(HaveLen(4))
		var runs []string
		for _, run := range runsOf(ns, wf.Name) {
			if run.Spec.Subject == "c-batch" {
				runs = append(runs, run.Name)
			}
		}
		Expect(runs).To(ConsistOf(enrolled[0]))
	})

	It("never enrolls a subject twice under reenroll Never", func() {
		ns := createNamespace("never")
		wf := installWorkflow(ns, fixture.MustSample(GinkgoT(), "lead-follow-up"), func(w *v1alpha1.Workflow) {
			w.Spec.Enrollment = v1alpha1.EnrollmentPolicy{Reenroll: v1alpha1.ReenrollNever, Concurrency: v1alpha1.ConcurrencyAllow}
		})
		lead := obj{"lead": obj{"source": "Website", "contactId": "c-n"}}
		runName := postUntilMatched(ns, event("n-1", "lead.created", "", lead), wf.Name).First().Enrolled[0].Run
		run := &v1alpha1.WorkflowRun{}
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: runName}, run)).To(Succeed())
		run.Status.Phase = v1alpha1.RunSucceeded
		Expect(k8sClient.Status().Update(ctx, run)).To(Succeed())
		r := post(ns, event("n-2", "lead.created", "", lead))
		Expect(r.First().Skipped).To(ConsistOf(HaveField("Reason", v1alpha1.SkipAlreadyEnrolled)))
	})

	It("enrolls no one in a workflow that is being deleted", func() {
		ns := createNamespace("deleting")
		wf := installWorkflow(ns, fixture.MustSample(GinkgoT(), "vip-routing"), func(w *v1alpha1.Workflow) {
			w.Finalizers = []string{"example.com/hold"} // another controller's, or foreground deletion
		})
		vip := func(id string) ce.Event {
			return event(id, "conversation.started", "", obj{"conversation": obj{"contactId": "c-del"}, "contact": obj{"tags": []string{"VIP"}}})
		}
		postUntilMatched(ns, vip("del-0"), wf.Name)
		Expect(k8sClient.Delete(ctx, wf)).To(Succeed())
		Eventually(func() []intake.RunRef {
			return post(ns, vip(fmt.Sprint("del-", GinkgoRandomSeed(), "-", time.Now().UnixNano()))).First().Enrolled
		}).Should(BeEmpty())
		Consistently(func() []intake.RunRef {
			return post(ns, vip(fmt.Sprint("del-later-", time.Now().UnixNano()))).First().Enrolled
		}).WithTimeout(2 * time.Second).Should(BeEmpty())
		held := &v1alpha1.Workflow{}
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: wf.Name}, held)).To(Succeed())
		held.Finalizers = nil
		Expect(k8sClient.Update(ctx, held)).To(Succeed())
	})

	It("answers 410, not 503, once the namespace is being deleted", func() {
		ns := createNamespace("terminating")
		wf := installWorkflow(ns, fixture.MustSample(GinkgoT(), "vip-routing"))
		vip := func(id string) ce.Event {
			return event(id, "conversation.started", "", obj{"conversation": obj{"contactId": "c-term"}, "contact": obj{"tags": []string{"VIP"}}})
		}
		postUntilMatched(ns, vip("term-0"), wf.Name)
		namespace := &corev1.Namespace{}
		Expect(k8sClient.Get(ctx, types.NamespacedName{Name: ns}, namespace)).To(Succeed())
		Expect(k8sClient.Delete(ctx, namespace)).To(Succeed()) // no namespace controller here: it stays Terminating
		Eventually(func() reply {
			return post(ns, vip(fmt.Sprint("term-", time.Now().UnixNano())))
		}).Should(And(HaveField("Status", 410), HaveField("Error", ContainSubstring("namespace "+ns+" is being deleted"))))
	})

	It("counts Paused and Draft workflows' events as skipped", func() {
		ns := createNamespace("states")
		paused := installWorkflow(ns, fixture.MustSample(GinkgoT(), "vip-routing"), func(w *v1alpha1.Workflow) { w.Name = "paused"; w.Spec.State = v1alpha1.WorkflowPaused })
		draft := installWorkflow(ns, fixture.MustSample(GinkgoT(), "vip-routing"), func(w *v1alpha1.Workflow) { w.Name = "draft"; w.Spec.State = v1alpha1.WorkflowDraft })
		e := event("s-1", "conversation.started", "", obj{"conversation": obj{"contactId": "c-1"}, "contact": obj{"tags": []string{"VIP"}}})
		Eventually(func() []string {
			var reasons []string
			for _, s := range post(ns, e).First().Skipped {
				reasons = append(reasons, s.Workflow+"="+s.Reason.String())
			}
			return reasons
		}).Should(ConsistOf(paused.Name+"="+v1alpha1.SkipPaused.String(), draft.Name+"="+v1alpha1.SkipDraft.String()))
		Expect(allRuns(ns)).To(BeEmpty())
		Eventually(skipCount(ns, paused.Name, v1alpha1.SkipPaused)).Should(HaveField("Count", BeNumerically(">=", 1)))
	})
})
