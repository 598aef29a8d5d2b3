package workflowrun

import (
	"context"
	"fmt"
	"sort"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// FieldRemoveAfter is the WorkflowRun field selector (a CRD selectable
// field) on status.removeAfter.
const FieldRemoveAfter = "status.removeAfter"

// RunCleaner removes finished runs from etcd once their retention has
// passed, a minute's worth at a time: every finished run carries the minute
// it may go (status.removeAfter, written with its final status), and one
// collection delete per namespace and minute selects exactly those runs. A
// run thus costs no API request of its own to leave etcd, where a delete
// per run would be a third write beside its create and its status.
//
// It runs on the leader. Its state is only what it already removed; after a
// restart it finds the due minutes again in the cache.
type RunCleaner struct {
	// Client lists runs from the cache and deletes collections on the API server.
	Client client.Client
	// Clock is the only source of "now".
	Clock clock.PassiveClock
	// Interval between sweeps (default 30s).
	Interval time.Duration
	// Archived, when set, says whether a finished run is in the run history
	// store: a minute of a namespace is removed only once every run of it
	// that is not a dry run was archived, so a run never leaves etcd before
	// the store holds it (the store down: runs wait, none lost).
	Archived func(types.UID) bool
	// Removed, when set, is told the runs of each minute removed.
	Removed func([]types.UID)
}

// NeedLeaderElection is true: one replica removes runs.
func (c *RunCleaner) NeedLeaderElection() bool { return true }

// Start sweeps every Interval until ctx ends.
func (c *RunCleaner) Start(ctx context.Context) error {
	interval := c.Interval
	if interval <= 0 {
		interval = 30 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := c.Sweep(ctx); err != nil {
				ctrl.LoggerFrom(ctx).Info("could not remove finished runs; will retry", "error", err.Error())
			}
		}
	}
}

// Sweep removes every due minute of finished runs now.
func (c *RunCleaner) Sweep(ctx context.Context) error {
	due := c.Clock.Now()
	var runs v1alpha1.WorkflowRunList
	if err := c.Client.List(ctx, &runs, client.UnsafeDisableDeepCopy); err != nil {
		return fmt.Errorf("list runs: %w", err)
	}
	type bucket struct{ namespace, minute string }
	buckets := map[bucket][]types.UID{}
	held := map[bucket]bool{}
	for i := range runs.Items {
		run := &runs.Items[i]
		st := &run.Status
		if st.RemoveAfter == "" || !st.Phase.IsFinished() {
			continue
		}
		at, err := time.Parse(v1alpha1.RemoveAfterFormat, st.RemoveAfter)
		if err != nil || at.After(due) {
			continue
		}
		b := bucket{run.Namespace, st.RemoveAfter}
		buckets[b] = append(buckets[b], run.UID)
		if c.Archived != nil && !run.Spec.DryRun && !c.Archived(run.UID) {
			held[b] = true
		}
	}
	ordered := make([]bucket, 0, len(buckets))
	for b := range buckets {
		if !held[b] {
			ordered = append(ordered, b)
		}
	}
	sort.Slice(ordered, func(i, j int) bool {
		if ordered[i].minute != ordered[j].minute {
			return ordered[i].minute < ordered[j].minute
		}
		return ordered[i].namespace < ordered[j].namespace
	})
	for _, b := range ordered {
		err := c.Client.DeleteAllOf(ctx, &v1alpha1.WorkflowRun{}, client.InNamespace(b.namespace),
			client.MatchingFields{FieldRemoveAfter: b.minute}, client.PropagationPolicy("Background"))
		if err != nil {
			return fmt.Errorf("remove runs of %s due at %s: %w", b.namespace, b.minute, err)
		}
		if c.Removed != nil {
			c.Removed(buckets[b])
		}
	}
	return nil
}
