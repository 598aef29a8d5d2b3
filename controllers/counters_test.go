package controllers

import (
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/types"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/test/fixture"
)

func TestRunCounters(t *testing.T) {
	g := NewWithT(t)
	c := &RunCounters{}
	key := types.NamespacedName{Namespace: "sales", Name: "wf"}
	run := func(name string, opts ...fixture.RunOption) *v1alpha1.WorkflowRun {
		r := fixture.Run(name, t0, opts...)
		r.Spec.WorkflowName = "wf"
		return &r
	}
	// The initial list: two active runs, one finished run (already counted before a restart).
	c.observe(nil, run("a"))
	c.observe(nil, run("b", fixture.SetRunPhase(v1alpha1.RunWaiting)))
	c.observe(nil, run("old", fixture.SetRunPhase(v1alpha1.RunSucceeded)))
	c.observe(nil, run("test", func(r *v1alpha1.WorkflowRun) { r.Spec.DryRun = true }))
	g.Expect(c.Pending(key)).To(Equal(RunDelta{Active: 2}), "finished and dry runs are not active")

	c.observe(run("a"), run("a", fixture.SetRunPhase(v1alpha1.RunRunning)))
	g.Expect(c.Pending(key)).To(Equal(RunDelta{Active: 2}), "a phase change within active counts nothing")
	c.observe(run("a", fixture.SetRunPhase(v1alpha1.RunRunning)), run("a", fixture.SetRunPhase(v1alpha1.RunSucceeded)))
	c.observe(run("b", fixture.SetRunPhase(v1alpha1.RunWaiting)), run("b", fixture.SetRunPhase(v1alpha1.RunFailed)))
	c.observe(run("old", fixture.SetRunPhase(v1alpha1.RunSucceeded)), run("old", fixture.SetRunPhase(v1alpha1.RunSucceeded)))
	c.Skipped("sales", "wf", v1alpha1.SkipActiveRun, "raced", t0)
	d := c.Pending(key)
	g.Expect(d).To(HaveField("Active", int32(0)))
	g.Expect(d).To(HaveField("Succeeded", int32(1)))
	g.Expect(d).To(HaveField("Failed", int32(1)))
	g.Expect(d.Skips).To(ConsistOf(HaveField("Count", int64(1))))

	c.observe(nil, run("c"))
	c.Commit(key, d)
	g.Expect(c.Pending(key)).To(Equal(RunDelta{Active: 1}), "committed deltas are gone; what came after stays")
	c.observe(run("c"), nil)
	g.Expect(c.Pending(key)).To(Equal(RunDelta{}), "a deleted active run is no longer active")

}
