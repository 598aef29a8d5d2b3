//go:build !unit

package intake_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// tagger adds a tag whenever a tag is added: the CRM answers its addTags
// command with another contact.tag.added, carrying crmflow's loop extensions.
func tagger() *v1alpha1.Workflow {
	wf := &v1alpha1.Workflow{}
	wf.Name = "tagger"
	wf.Spec = v1alpha1.WorkflowSpec{
		State:      v1alpha1.WorkflowActive,
		Trigger:    v1alpha1.Trigger{Event: &v1alpha1.EventTrigger{Types: []v1alpha1.EventType{"contact.tag.added"}}},
		Enrollment: v1alpha1.EnrollmentPolicy{Reenroll: v1alpha1.ReenrollAlways, Concurrency: v1alpha1.ConcurrencyAllow},
		Steps:      []v1alpha1.Step{{Name: "tag", AddTags: &v1alpha1.TagsAction{Tags: []v1alpha1.Template{"Seen"}}}},
	}
	return wf
}

var _ = Describe("loop prevention", func() {
	It("cuts a contact.tag.added → addTags → contact.tag.added chain and records why", func() {
		ns := createNamespace("loop")
		wf := installWorkflow(ns, tagger())
		first := postUntilMatched(ns, event("tag-1", "contact.tag.added", "c-1", obj{"tag": "VIP"}), wf.Name)
		Expect(first.First().Enrolled).To(HaveLen(1))

		// The CRM's echo of the run's addTags command: one hop, this workflow and subject in the chain.
		echo := event("tag-2", "contact.tag.added", "c-1", obj{"tag": "Seen"})
		echo.SetExtension(v1alpha1.ExtensionHops, "1")
		echo.SetExtension(v1alpha1.ExtensionChain, ns+"/tagger/c-1")
		r := post(ns, echo)
		Expect(r.First().Skipped).To(ConsistOf(HaveField("Reason", v1alpha1.SkipLoopDetected)), r.Raw)
		Expect(r.First().Skipped[0].Message).To(ContainSubstring("earlier in this event's causal chain"))

		// Another workflow's chain may enroll this one, and the run records its cause...
		relayed := event("tag-3", "contact.tag.added", "c-2", obj{"tag": "x"})
		relayed.SetExtension(v1alpha1.ExtensionHops, "3")
		relayed.SetExtension(v1alpha1.ExtensionChain, ns+"/a/c-2,"+ns+"/b/c-2")
		r = post(ns, relayed)
		Expect(r.First().Enrolled).To(HaveLen(1), r.Raw)
		var caused *v1alpha1.WorkflowRun
		for _, run := range runsOf(ns, wf.Name) {
			if run.Name == r.First().Enrolled[0].Run {
				caused = &run
			}
		}
		Expect(caused).NotTo(BeNil())
		Expect(caused.Spec.Cause).To(Equal(&v1alpha1.CausalChain{Hops: 3, Links: []string{ns + "/a/c-2", ns + "/b/c-2"}}))

		// ...until the hop limit (8 by default).
		far := event("tag-4", "contact.tag.added", "c-3", obj{"tag": "x"})
		far.SetExtension(v1alpha1.ExtensionHops, "8")
		r = post(ns, far)
		Expect(r.First().Skipped).To(ConsistOf(HaveField("Reason", v1alpha1.SkipHopLimit)), r.Raw)

		Expect(runsOf(ns, wf.Name)).To(HaveLen(2))
		Eventually(skipCount(ns, wf.Name, v1alpha1.SkipLoopDetected)).Should(And(
			HaveField("Count", BeEquivalentTo(1)), HaveField("LastMessage", ContainSubstring("tag-2"))))
		Eventually(skipCount(ns, wf.Name, v1alpha1.SkipHopLimit)).Should(And(
			HaveField("Count", BeEquivalentTo(1)), HaveField("LastMessage", ContainSubstring("limit is 8"))))
	})
})
