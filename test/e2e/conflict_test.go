//go:build !unit

package e2e

import (
	"context"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/controllers"
	"github.com/crmflow/crmflow/controllers/revision"
	"github.com/crmflow/crmflow/controllers/workflowrun"
	"github.com/crmflow/crmflow/runner"
	"github.com/crmflow/crmflow/runner/actions"
	"github.com/crmflow/crmflow/test/fixture"
)

// laggingCache is the reconciler's cached client as it is while the
// informer has not yet seen the latest writes: a Get of a frozen run returns
// the copy frozen, everything else reads the API server.
type laggingCache struct {
	client.Client
	mu     sync.Mutex
	frozen map[client.ObjectKey]*v1alpha1.WorkflowRun
}

// freeze makes Get of run return run as it is now.
func (l *laggingCache) freeze(run *v1alpha1.WorkflowRun) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.frozen == nil {
		l.frozen = map[client.ObjectKey]*v1alpha1.WorkflowRun{}
	}
	l.frozen[client.ObjectKeyFromObject(run)] = run.DeepCopy()
}

func (l *laggingCache) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	l.mu.Lock()
	f, ok := l.frozen[key]
	l.mu.Unlock()
	if r, isRun := obj.(*v1alpha1.WorkflowRun); isRun && ok {
		f.DeepCopyInto(r)
		return nil
	}
	return l.Client.Get(ctx, key, obj, opts...)
}

// A step must never be performed twice without a crash in between: not when
// the cache lags behind the controller's own write, not when intake appends
// an event or the user cancels while a pass performs actions. These specs
// call Reconcile directly, against the real API server, with a cache that
// lags exactly as the spec says.
var _ = Describe("Status write conflicts", func() {
	var (
		ns    string
		clk   *clocktesting.FakeClock
		cache *laggingCache
		r     *workflowrun.Reconciler
	)
	BeforeEach(func() {
		ns = newNamespace()
		clk = newFakeClock()
		cache = &laggingCache{Client: k8sClient}
		r = &workflowrun.Reconciler{
			Client:    cache,
			APIReader: k8sClient,
			Clock:     clk,
			Engine: runner.New(runner.Options{
				Executor:   actions.NewExecutor(actions.Config{Clock: clk, Egress: &actions.EgressPolicy{Allow: []string{"127.0.0.1"}}}),
				CRMSinkURL: target.URL + "/crm",
			}),
			Secrets:   &controllers.SecretReader{Reader: k8sClient},
			Revisions: &revision.Store{Client: cache, Live: k8sClient},
		}
	})

	// start creates a run that notifies once and then waits an hour, and
	// freezes the cache at the run as created.
	start := func(name string) *v1alpha1.WorkflowRun {
		// Always/Allow: admission needs no cache index, which this direct client lacks.
		anyTime := func(wf *v1alpha1.Workflow) {
			wf.Spec.Enrollment = v1alpha1.EnrollmentPolicy{Reenroll: v1alpha1.ReenrollAlways, Concurrency: v1alpha1.ConcurrencyAllow}
		}
		wf := createWorkflow(remindWorkflow(ns, name, fixture.SetSteps(fixture.NotifyStep("alert", "alert {{ subject }}"), fixture.WaitStep("pause", "1h")), anyTime))
		run := enroll(wf, cloudEvent("conversation.started", name+"-1", "c-1", clk.Now(),
			map[string]any{"conversation": map[string]any{"contactId": "c-1"}}), "c-1")
		stored := getRun(run)(Default)
		cache.freeze(stored)
		return stored
	}
	reconcile := func(run *v1alpha1.WorkflowRun) ctrl.Result {
		GinkgoHelper()
		res, err := r.Reconcile(suiteCtx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(run)})
		Expect(err).NotTo(HaveOccurred())
		return res
	}
	alerts := func(run *v1alpha1.WorkflowRun) int {
		n := 0
		for _, h := range target.on("/notify/" + ns + "/sales") {
			if h.IdempotencyKey == string(run.UID)+"/alert" {
				n++
			}
		}
		return n
	}

	It("does not perform a step again when the cache still shows the status before the write", func() {
		run := start("stale")
		reconcile(run)
		Expect(alerts(run)).To(Equal(1))
		written := getRun(run)(Default)
		Expect(stepOf(written, "alert").Phase).To(Equal(v1alpha1.StepSucceeded))

		// The cache still holds the run as created.
		reconcile(run)
		Expect(alerts(run)).To(Equal(1))
		Expect(getRun(run)(Default).ResourceVersion).To(Equal(written.ResourceVersion), "nothing to write")
	})

	It("keeps an event intake delivered during the pass, then does not perform again from intake's version", func() {
		run := start("append")
		ev := cloudEvent("conversation.ended", "end-1", "c-1", clk.Now(), map[string]any{})
		deliver(run, ev) // intake writes between the engine's read (the frozen copy) and its write
		withEvent := getRun(run)(Default)

		reconcile(run)
		Expect(alerts(run)).To(Equal(1))
		merged := getRun(run)(Default)
		Expect(stepOf(merged, "alert").Phase).To(Equal(v1alpha1.StepSucceeded), "the pass's outcome is written despite the conflict")
		Expect(merged.Spec.Inbox).To(ConsistOf(HaveField("ID", "end-1")), "the delivered event is kept")
		Expect(merged.Status.InboxConsumed).To(BeZero(), "this pass read the run before the delivery")

		// The cache has caught up with intake's write, not with ours.
		cache.freeze(withEvent)
		reconcile(run)
		Expect(alerts(run)).To(Equal(1))
		Expect(getRun(run)(Default).Status.InboxConsumed).To(BeEquivalentTo(1), "the next pass consumed the event")
		Expect(stepOf(getRun(run)(Default), "pause").Phase).To(Equal(v1alpha1.StepWaiting))
	})

	It("records the steps a pass performed when spec.cancel arrives meanwhile, then cancels", func() {
		run := start("cancel")
		Expect(k8sClient.Patch(suiteCtx, run.DeepCopy(), client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"cancel":true}}`)))).To(Succeed())
		cancelled := getRun(run)(Default)

		reconcile(run)
		Expect(alerts(run)).To(Equal(1))
		Expect(stepOf(getRun(run)(Default), "alert").Phase).To(Equal(v1alpha1.StepSucceeded))

		for _, cached := range []*v1alpha1.WorkflowRun{run, cancelled} {
			cache.freeze(cached)
			reconcile(run)
		}
		got := getRun(run)(Default)
		Expect(alerts(run)).To(Equal(1))
		Expect(got.Status.Phase).To(Equal(v1alpha1.RunCancelled))
		Expect(stepOf(got, "alert").Phase).To(Equal(v1alpha1.StepSucceeded))
		Expect(stepOf(got, "pause").Phase).To(Equal(v1alpha1.StepFailed))
	})

	It("still advances a run whose wake came, from the cache once it caught up", func() {
		run := start("wake")
		reconcile(run)
		cache.freeze(getRun(run)(Default))
		clk.Step(2 * time.Hour)
		reconcile(run)
		Expect(getRun(run)(Default).Status.Phase).To(Equal(v1alpha1.RunSucceeded))
		Expect(alerts(run)).To(Equal(1))
	})
})
