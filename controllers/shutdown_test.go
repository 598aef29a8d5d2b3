package controllers

import (
	"context"
	"errors"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

func TestStopQuietly(t *testing.T) {
	failing := reconcile.Func(func(context.Context, reconcile.Request) (reconcile.Result, error) {
		return reconcile.Result{RequeueAfter: time.Second}, errors.New("Timeout: failed waiting for *v1.ControllerRevision Informer to sync")
	})
	r := StopQuietly(failing)

	// While the manager runs, an error is the workqueue's business: kept.
	if _, err := r.Reconcile(context.Background(), reconcile.Request{}); err == nil {
		t.Fatal("an error of a running manager was dropped")
	}

	// Once its context is cancelled (shutdown), the same error ends quietly.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := r.Reconcile(ctx, reconcile.Request{})
	if err != nil || res != (reconcile.Result{}) {
		t.Fatalf("at shutdown: got %+v, %v; want an empty result and no error", res, err)
	}

	// A reconcile that ran out of time is no shutdown: its error is kept.
	expired, cancelExpired := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancelExpired()
	if _, err := r.Reconcile(expired, reconcile.Request{}); err == nil {
		t.Fatal("the error of a reconcile past its deadline was dropped")
	}

	// A success passes through unchanged.
	ok := StopQuietly(reconcile.Func(func(context.Context, reconcile.Request) (reconcile.Result, error) {
		return reconcile.Result{RequeueAfter: time.Minute}, nil
	}))
	if res, err := ok.Reconcile(ctx, reconcile.Request{}); err != nil || res.RequeueAfter != time.Minute {
		t.Fatalf("success changed: %+v, %v", res, err)
	}
}
