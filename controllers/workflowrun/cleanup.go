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
// passed, ten seconds' worth at a time: every finished run carries the slot
// it may go (status.removeAfter, written with its final status), and one
// collection delete per namespace and slot selects exactly those runs. A
// run thus costs no API request of its own to leave etcd, where a delete
// per run would be a third write beside its create and its status.
//
// It runs on the leader. Its state is only what it already removed; after a
// restart it finds the due slots again in the cache.
type RunCleaner struct {
	// Client lists runs from the cache and deletes collections on the API server.
	Client client.Client
	// Clock is the only source of "now".
	Clock clock.PassiveClock
	// Interval between sweeps (default v1alpha1.RemoveAfterSlot).
	Interval time.Duration
	// Archived, when set, says whether a finished run is in the run history
	// store: a slot of a namespace is removed only once every run of it
	// that is not a dry run was archived, so a run never leaves etcd before
	// the store holds it (the store down: runs wait, none lost).
	Archived func(types.UID) bool
	// Removed, when set, is told the runs of each slot removed.
	Removed func([]types.UID)
}

// NeedLeaderElection is true: one replica removes runs.
func (c *RunCleaner) NeedLeaderElection() bool { return true }

// Start sweeps every Interval until ctx ends.
func (c *RunCleaner) Start(ctx context.Context) error {
	interval := c.Interval
	if interval <= 0 {
		interval = v1alpha1.RemoveAfterSlot
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

// Sweep removes every due slot of finished runs now.
func (c *RunCleaner) Sweep(ctx context.Context) error {
	due := c.Clock.Now()
	var runs v1alpha1.WorkflowRunList
	if err := c.Client.List(ctx, &runs, client.UnsafeDisableDeepCopy); err != nil {
		return fmt.Errorf("list runs: %w", err)
	}
	type bucket struct{ namespace, slot string }
	buckets := map[bucket][]types.UID{}
	held := map[bucket]bool{}
	for i := range runs.Items {
		run := &runs.Items[i]
		st := &run.Status
		if st.RemoveAfter == "" || !st.Phase.IsFinished() {
			continue
		}
		at, err := v1alpha1.ParseRemoveAfter(st.RemoveAfter)
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
		if ordered[i].slot != ordered[j].slot {
			return ordered[i].slot < ordered[j].slot
		}
		return ordered[i].namespace < ordered[j].namespace
	})
	for _, b := range ordered {
		err := c.Client.DeleteAllOf(ctx, &v1alpha1.WorkflowRun{}, client.InNamespace(b.namespace),
			client.MatchingFields{FieldRemoveAfter: b.slot}, client.PropagationPolicy("Background"))
		if err != nil {
			return fmt.Errorf("remove runs of %s due at %s: %w", b.namespace, b.slot, err)
		}
		if c.Removed != nil {
			c.Removed(buckets[b])
		}
	}
	return nil
}
