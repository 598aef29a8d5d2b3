package controllers

import (
	"context"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
)

// Phase is one ordered step of a Reconcile over its per-pass scope S: it
// reads and changes the scope (never the API object's status on the
// server; the Reconcile writes that once, deferred) and says when it wants
// the object back.
type Phase[S any] func(ctx context.Context, scope S) (ctrl.Result, error)

// RunPhases runs phases in order over scope and merges their results to
// the soonest requeue. The first error ends the pass: it is returned, and
// the workqueue's backoff retries the object.
func RunPhases[S any](ctx context.Context, scope S, phases ...Phase[S]) (ctrl.Result, error) {
	var result ctrl.Result
	for _, phase := range phases {
		res, err := phase(ctx, scope)
		if err != nil {
			return ctrl.Result{}, err
		}
		result = LowestNonZeroResult(result, res)
	}
	return result, nil
}

// LowestNonZeroResult merges two results to the soonest requeue: a zero
// RequeueAfter means "no requeue wanted", not "at once" (cluster-api's
// util.LowestNonZeroResult).
func LowestNonZeroResult(a, b ctrl.Result) ctrl.Result {
	switch {
	case a.RequeueAfter == 0:
		return b
	case b.RequeueAfter == 0:
		return a
	case a.RequeueAfter <= b.RequeueAfter:
		return a
	default:
		return b
	}
}

// RequeuePolicy turns a wait a reconciler computed on its Clock into the
// RequeueAfter it returns; a wait of 0 means the object waits for nothing
// but watch events. A nil policy returns the wait itself, which is right
// whenever Clock is the real clock: the workqueue's timers run on real
// time. A fake clock needs a policy that revisits objects often, since
// stepping it fires no workqueue timer.
type RequeuePolicy interface {
	RequeueAfter(wait time.Duration) time.Duration
}

// RequeueAfter applies policy p to wait; a nil p returns wait.
func RequeueAfter(p RequeuePolicy, wait time.Duration) time.Duration {
	if p == nil {
		return wait
	}
	return p.RequeueAfter(wait)
}
