package controllers

import (
	"context"
	"errors"

	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// StopQuietly wraps r so that a reconcile cut short by the manager's shutdown
// (its context cancelled: a Ctrl-C, a SIGTERM, a lost lease) ends without an
// error. Nothing is lost by dropping it: the next start lists every object
// and reconciles it again. Returned as an error, it would be logged as
// "Reconciler error" with a stack trace on every clean stop, which reads as a
// fault to whoever pressed Ctrl-C. It is logged at V(1) instead. A context
// that ran out of time (a reconcile timeout) is not a shutdown: that error
// is returned, and the workqueue retries the object.
func StopQuietly(r reconcile.Reconciler) reconcile.Reconciler {
	return reconcile.Func(func(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
		res, err := r.Reconcile(ctx, req)
		if err != nil && errors.Is(ctx.Err(), context.Canceled) {
			log.FromContext(ctx).V(1).Info("reconcile cut short by shutdown", "error", err.Error())
			return reconcile.Result{}, nil
		}
		return res, err
	})
}
