//go:build !unit

// Package e2e drives crmflow's controllers end to end on a real API server
// (envtest with our built kube-apiserver and etcd), with the real engine and
// action executors talking to real HTTP and SMTP servers on 127.0.0.1.
//
// Each spec gets its own namespace and its own manager, whose cache watches
// only that namespace; so specs can stop and restart "their" manager, and run
// on a fake clock or the real one, without disturbing each other.
package e2e

import (
	"context"
	"path/filepath"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/crmflow/crmflow/test/testenv"
)

var (
	suiteCtx  context.Context
	cancel    context.CancelFunc
	env       *envtest.Environment
	cfg       *rest.Config
	scheme    *runtime.Scheme
	k8sClient client.Client
	target    *httpTarget
	mailer    *mailServer
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	testenv.SetEventuallyDefaults()
	RunSpecs(t, "crmflow end-to-end suite")
}

var _ = BeforeSuite(func() {
	ctrl.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	suiteCtx, cancel = context.WithCancel(context.Background())
	var err error
	scheme, err = testenv.Scheme()
	Expect(err).NotTo(HaveOccurred())

	env = testenv.New(filepath.Join("..", ".."))
	cfg, err = env.Start()
	Expect(err).NotTo(HaveOccurred())
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	target = newHTTPTarget()
	mailer, err = newMailServer()
	Expect(err).NotTo(HaveOccurred())
})

var _ = AfterSuite(func() {
	if cancel != nil {
		cancel()
	}
	if target != nil {
		target.Close()
	}
	if mailer != nil {
		_ = mailer.srv.Close()
	}
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
})
