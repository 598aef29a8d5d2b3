//go:build !unit

package e2e

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/controllers"
	"github.com/crmflow/crmflow/controllers/revision"
	"github.com/crmflow/crmflow/controllers/workflow"
)

// The Workflow's status has two writers (intake and the Workflow
// reconciler), so its status patch carries the resourceVersion it read and
// may meet a conflict. This spec calls Reconcile directly, against the real
// API server, with a client whose first status patch conflicts.
var _ = Describe("Workflow status write conflicts", func() {
	It("returns a conflict as an error for the workqueue's backoff, and keeps the counts it could not write pending", func() {
		ns := newNamespace()
		wf := createWorkflow(remindWorkflow(ns, "counted"))
		direct, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())
		var conflicts atomic.Int32
		conflicts.Store(1)
		cl := interceptor.NewClient(direct, interceptor.Funcs{
			SubResourcePatch: func(ctx context.Context, c client.Client, sub string, o client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
				if conflicts.Add(-1) >= 0 {
					return apierrors.NewConflict(v1alpha1.GroupVersion.WithResource("workflows").GroupResource(), o.GetName(), errors.New("the object has been modified"))
				}
				return c.SubResource(sub).Patch(ctx, o, p, opts...)
			},
		})
		counters := &controllers.RunCounters{}
		r := &workflow.Reconciler{
			Client: cl, Clock: clock.RealClock{}, Counters: counters,
			Revisions: &revision.Store{Client: cl, Live: k8sClient},
			// No history limit to apply: this direct client has no cache index of finished runs.
			FinishedRunsArchived: true,
		}
		key := client.ObjectKeyFromObject(wf)
		counters.Skipped(ns, wf.Name, v1alpha1.SkipActiveRun, "raced", time.Now())

		res, err := r.Reconcile(suiteCtx, ctrl.Request{NamespacedName: key})
		Expect(apierrors.IsConflict(err)).To(BeTrue(), "the conflict is returned, not turned into a fixed requeue: %v", err)
		Expect(res).To(BeZero(), "no RequeueAfter beside an error")
		Expect(counters.Pending(key).Skips).To(ConsistOf(HaveField("Count", BeEquivalentTo(1))), "counts not written stay pending")

		res, err = r.Reconcile(suiteCtx, ctrl.Request{NamespacedName: key})
		Expect(err).NotTo(HaveOccurred())
		Expect(res).To(BeZero())
		Expect(counters.Pending(key).Skips).To(BeEmpty(), "written, then committed")
		got := &v1alpha1.Workflow{}
		Expect(k8sClient.Get(suiteCtx, key, got)).To(Succeed())
		Expect(got.Status.SkippedEvents).To(ConsistOf(And(HaveField("Reason", v1alpha1.SkipActiveRun), HaveField("Count", BeEquivalentTo(1)))))
		Expect(got.Status.CurrentRevision).NotTo(BeEmpty())
	})
})
