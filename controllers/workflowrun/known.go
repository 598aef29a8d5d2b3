package workflowrun

import (
	"context"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// knownVersions remembers, per run, the newest resourceVersion this process
// wrote or read live, until the cache is seen to hold it.
//
// Why: the engine performs actions before their outcome is written, so it
// must never advance a run from a status older than one already written.
// The informer cache lags behind our own writes; a pass that starts before
// the cache saw the previous pass's write (a requeue that fires early, an
// event enqueued while the previous pass ran) would read the old status and
// perform the same steps again. This is not run progress (that lives only in
// status): losing it on restart is harmless, since a new cache starts from a
// fresh list.
type knownVersions struct {
	mu    sync.Mutex
	byRun map[types.NamespacedName]string
}

func (k *knownVersions) get(key types.NamespacedName) (string, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.byRun[key]
	return v, ok
}

func (k *knownVersions) set(key types.NamespacedName, rv string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.byRun == nil {
		k.byRun = map[types.NamespacedName]string{}
	}
	k.byRun[key] = rv
}

func (k *knownVersions) forget(key types.NamespacedName) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.byRun, key)
}

// readRun returns the run to advance: the cached copy when nothing newer is
// known, else a live read. Resource versions are compared for equality only
// (they are opaque): a cached copy is trusted when it is the version this
// process last wrote or read live, or when a live read returns that same
// version.
func (r *Reconciler) readRun(ctx context.Context, key types.NamespacedName) (*v1alpha1.WorkflowRun, error) {
	run := &v1alpha1.WorkflowRun{}
	if err := r.Get(ctx, key, run); err != nil {
		if apierrors.IsNotFound(err) {
			r.known.forget(key)
		}
		return nil, err
	}
	want, ok := r.known.get(key)
	if !ok || want == run.ResourceVersion {
		r.known.forget(key)
		return run, nil
	}
	live := &v1alpha1.WorkflowRun{}
	if err := r.APIReader.Get(ctx, key, live); err != nil {
		if apierrors.IsNotFound(err) {
			r.known.forget(key)
		}
		return nil, fmt.Errorf("read run %s live: the cache may predate resourceVersion %s: %w", key, want, err)
	}
	if live.ResourceVersion == run.ResourceVersion {
		r.known.forget(key)
	} else {
		r.known.set(key, live.ResourceVersion)
	}
	return live, nil
}
