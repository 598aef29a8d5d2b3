package console

import (
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/crmflow/crmflow/runner"
)

// AddToManager serves the in-cluster console on addr from mgr (every
// replica; no leader election). It uses mgr's REST config only for the API
// server's address and CA: each request carries the signed-in person's
// own token (NewPassThrough). hist, when not nil, is where runs that have
// left etcd are read (HandlerHistory over the manager's history API).
func AddToManager(mgr ctrl.Manager, addr string, engine *runner.Engine, hist History) error {
	srv, err := NewPassThrough(mgr.GetConfig(), Options{Addr: addr, Scheme: mgr.GetScheme(), Engine: engine,
		Log: mgr.GetLogger().WithName("console"), History: hist})
	if err != nil {
		return err
	}
	if err := mgr.Add(srv); err != nil {
		return fmt.Errorf("add console: %w", err)
	}
	return nil
}
