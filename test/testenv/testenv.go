// Package testenv starts the real control plane that hack/build-control-plane.sh
// built (kube-apiserver and etcd) with crmflow's CRDs installed, for every
// integration and end-to-end suite, and sets the suites' gomega defaults.
package testenv

import (
	"time"

	"github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/crmflow/crmflow/internal/controlplane"
)

// K8sVersion is the control-plane version the Makefile builds.
const K8sVersion = controlplane.K8sVersion

// New returns an envtest environment for the repository at root; see controlplane.New.
func New(root string) *envtest.Environment { return controlplane.New(root) }

// AssetsDir is where the control-plane binaries are.
func AssetsDir(root string) string { return controlplane.AssetsDir(root) }

// Scheme returns a scheme with the built-in Kubernetes types and crmflow's.
func Scheme() (*runtime.Scheme, error) { return controlplane.Scheme() }

// SetEventuallyDefaults gives gomega's Eventually room for caches and
// controllers that lag on a loaded 2-core CI machine; a check that passes
// returns at once, so this costs nothing when things are fast.
func SetEventuallyDefaults() {
	gomega.SetDefaultEventuallyTimeout(20 * time.Second)
	gomega.SetDefaultEventuallyPollingInterval(50 * time.Millisecond)
}
