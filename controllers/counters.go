package controllers

import (
	"context"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/controllers/index"
)

// RunCounters keeps a Workflow's run counts incrementally, so a run's
// transition costs O(1) work whatever the number of runs stored: the number
// of active runs, from the informer's events (rebuilt from the initial list
// after a restart), and what happened since the counts were last written
// (runs that finished, enrollments the run controller refused). The
// workflow.Reconciler adds those to the status's running totals at most once
// per FlushInterval per workflow and then commits them. Test runs (dryRun)
// are never counted. A crash loses at most one interval of finished counts;
// the run history store keeps the exact figures.
type RunCounters struct {
	// FlushInterval is how long changes gather before the Workflow's status
	// is written (default 5s).
	FlushInterval time.Duration

	mu    sync.Mutex
	byWF  map[types.NamespacedName]*runTally
	queue workqueue.TypedRateLimitingInterface[reconcile.Request]
}

// runTally is one workflow's counts: active now, and deltas not yet written.
type runTally struct {
	active   int32
	finished map[v1alpha1.RunPhase]int32
	skips    map[v1alpha1.SkipReason]*v1alpha1.SkipCount
}

// RunDelta is what a workflow's status has not counted yet.
type RunDelta struct {
	Active    int32
	Succeeded int32
	Failed    int32
	Cancelled int32
	Skips     []v1alpha1.SkipCount
}

func (c *RunCounters) tally(key types.NamespacedName) *runTally {
	if c.byWF == nil {
		c.byWF = map[types.NamespacedName]*runTally{}
	}
	t := c.byWF[key]
	if t == nil {
		t = &runTally{finished: map[v1alpha1.RunPhase]int32{}, skips: map[v1alpha1.SkipReason]*v1alpha1.SkipCount{}}
		c.byWF[key] = t
	}
	return t
}

func (c *RunCounters) interval() time.Duration {
	if c.FlushInterval > 0 {
		return c.FlushInterval
	}
	return 5 * time.Second
}

// flushSoon asks for the workflow's status to be written within the flush
// interval; requests for one workflow within an interval coalesce.
func (c *RunCounters) flushSoon(key types.NamespacedName) {
	if c.queue != nil {
		c.queue.AddAfter(reconcile.Request{NamespacedName: key}, c.interval())
	}
}

// observe applies one informer event: old is nil for an add, new is nil for a delete.
func (c *RunCounters) observe(old, cur *v1alpha1.WorkflowRun) {
	run := cur
	if run == nil {
		run = old
	}
	if run == nil || run.Spec.DryRun {
		return
	}
	key := types.NamespacedName{Namespace: run.Namespace, Name: run.Spec.WorkflowName}
	wasActive := old != nil && index.Active(old)
	isActive := cur != nil && index.Active(cur)
	finishedNow := old != nil && cur != nil && !old.Status.Phase.IsFinished() && cur.Status.Phase.IsFinished()
	created := old == nil && cur != nil
	deleted := cur == nil
	if wasActive == isActive && !finishedNow && !created && !deleted {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.tally(key)
	switch {
	case isActive && !wasActive:
		t.active++
	case wasActive && !isActive:
		t.active--
	}
	if finishedNow {
		t.finished[cur.Status.Phase]++
	}
	c.flushSoon(key)
}

// Skipped counts an enrollment the run controller refused.
func (c *RunCounters) Skipped(namespace, workflow string, reason v1alpha1.SkipReason, message string, at time.Time) {
	if c == nil {
		return
	}
	key := types.NamespacedName{Namespace: namespace, Name: workflow}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.tally(key)
	s := t.skips[reason]
	if s == nil {
		s = &v1alpha1.SkipCount{Reason: reason}
		t.skips[reason] = s
	}
	s.Count++
	mt := metav1.NewTime(at)
	s.LastTime = &mt
	s.LastMessage = truncate(message, 1024)
	c.flushSoon(key)
}

// Pending returns the workflow's active count and the deltas not yet written.
func (c *RunCounters) Pending(key types.NamespacedName) RunDelta {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.tally(key)
	d := RunDelta{Active: max(t.active, 0), Succeeded: t.finished[v1alpha1.RunSucceeded],
		Failed: t.finished[v1alpha1.RunFailed], Cancelled: t.finished[v1alpha1.RunCancelled]}
	for _, s := range t.skips {
		d.Skips = append(d.Skips, *s.DeepCopy())
	}
	return d
}

// Commit subtracts deltas that were written to the workflow's status.
func (c *RunCounters) Commit(key types.NamespacedName, d RunDelta) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.tally(key)
	t.finished[v1alpha1.RunSucceeded] -= d.Succeeded
	t.finished[v1alpha1.RunFailed] -= d.Failed
	t.finished[v1alpha1.RunCancelled] -= d.Cancelled
	for _, s := range d.Skips {
		if cur := t.skips[s.Reason]; cur != nil {
			cur.Count -= s.Count
			if cur.Count <= 0 {
				delete(t.skips, s.Reason)
			}
		}
	}
}

// Forget drops a deleted workflow's counts.
func (c *RunCounters) Forget(key types.NamespacedName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.byWF, key)
}

// Handler is the informer event handler that keeps the counts and asks for
// the workflow's status to be written, coalesced per FlushInterval.
func (c *RunCounters) Handler() handler.TypedEventHandler[*v1alpha1.WorkflowRun, reconcile.Request] {
	return handler.TypedFuncs[*v1alpha1.WorkflowRun, reconcile.Request]{
		CreateFunc: func(_ context.Context, e event.TypedCreateEvent[*v1alpha1.WorkflowRun], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			c.setQueue(q)
			c.observe(nil, e.Object)
		},
		UpdateFunc: func(_ context.Context, e event.TypedUpdateEvent[*v1alpha1.WorkflowRun], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			c.setQueue(q)
			c.observe(e.ObjectOld, e.ObjectNew)
		},
		DeleteFunc: func(_ context.Context, e event.TypedDeleteEvent[*v1alpha1.WorkflowRun], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			c.setQueue(q)
			c.observe(e.Object, nil)
		},
	}
}

func (c *RunCounters) setQueue(q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.queue = q
}

// truncate cuts s to at most n bytes, marking the cut with "...".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
