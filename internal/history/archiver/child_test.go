//go:build !unit

package archiver_test

import (
	"context"
	"fmt"
	"os"
	"syscall"

	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/crmflow/crmflow/internal/history"
	"github.com/crmflow/crmflow/internal/history/archiver"
	"github.com/crmflow/crmflow/internal/history/sqlstore"
	"github.com/crmflow/crmflow/test/testenv"
)

const (
	childEnv        = "CRMFLOW_ARCHIVER_CHILD_STORE"
	childKubeconfig = "CRMFLOW_ARCHIVER_CHILD_KUBECONFIG"
)

// killedAfterWrite is a store whose process dies (SIGKILL) as soon as a
// batch is committed: the crash between the store write and the delete.
type killedAfterWrite struct{ history.Store }

func (k killedAfterWrite) Archive(ctx context.Context, runs []history.Run) error {
	if err := k.Store.Archive(ctx, runs); err != nil {
		return err
	}
	return syscall.Kill(os.Getpid(), syscall.SIGKILL)
}

// runChild is the manager of the SIGKILL spec.
func runChild() error {
	cfg, err := clientcmd.BuildConfigFromFlags("", os.Getenv(childKubeconfig))
	if err != nil {
		return fmt.Errorf("load kubeconfig: %w", err)
	}
	scheme, err := testenv.Scheme()
	if err != nil {
		return err
	}
	store, err := sqlstore.Open(context.Background(), os.Getenv(childEnv), sqlstore.Options{})
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0"})
	if err != nil {
		return err
	}
	a := &archiver.Archiver{Client: mgr.GetClient(), Store: killedAfterWrite{store}, Clock: clock.RealClock{}, Grace: -1}
	if err := a.SetupWithManager(mgr); err != nil {
		return err
	}
	return mgr.Start(context.Background())
}
