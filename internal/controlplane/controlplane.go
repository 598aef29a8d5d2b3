// Package controlplane starts the real control plane that
// hack/build-control-plane.sh built (kube-apiserver and etcd) with crmflow's
// CRDs installed: for the test suites (through test/testenv), the local start
// and the benchmarks. It has no test-framework dependency, so binaries may use it.
package controlplane

import (
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// K8sVersion is the control-plane version the Makefile builds; it matches the
// k8s.io/* libraries in go.mod.
const K8sVersion = "1.37.2"

// New returns an envtest environment for the repository at root, with the
// CRDs from config/crd/bases. It uses KUBEBUILDER_ASSETS when set, otherwise
// bin/k8s/<K8sVersion> under root, and fails loudly when neither holds the binaries.
func New(root string) *envtest.Environment {
	return &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: AssetsDir(root),
	}
}

// AssetsDir is where the control-plane binaries are.
func AssetsDir(root string) string {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir
	}
	dir, err := filepath.Abs(filepath.Join(root, "bin", "k8s", K8sVersion))
	if err != nil {
		panic(fmt.Sprintf("resolve control-plane directory: %v", err))
	}
	return dir
}

// Scheme returns a scheme with the built-in Kubernetes types and crmflow's.
func Scheme() (*runtime.Scheme, error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("register Kubernetes types: %w", err)
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("register crmflow types: %w", err)
	}
	return scheme, nil
}
