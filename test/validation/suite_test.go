//go:build !unit

// Package validation proves that the API server itself — the CRD schema, its
// markers and its CEL x-kubernetes-validations — accepts every sample and
// refuses invalid Workflows with a message that names the offending field.
package validation

import (
	"context"
	"path/filepath"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/crmflow/crmflow/test/testenv"
)

var (
	ctx       context.Context
	cancel    context.CancelFunc
	env       *envtest.Environment
	k8sClient client.Client
	namespace = "validation"
)

func TestValidation(t *testing.T) {
	RegisterFailHandler(Fail)
	testenv.SetEventuallyDefaults()
	RunSpecs(t, "CRD validation suite")
}

var _ = BeforeSuite(func() {
	ctx, cancel = context.WithCancel(context.Background())
	scheme, err := testenv.Scheme()
	Expect(err).NotTo(HaveOccurred())

	env = testenv.New(filepath.Join("..", ".."))
	cfg, err := env.Start()
	Expect(err).NotTo(HaveOccurred())
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}})).To(Succeed())
})

var _ = AfterSuite(func() {
	cancel()
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
})
