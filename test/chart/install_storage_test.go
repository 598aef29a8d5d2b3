//go:build !unit

package chart

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
)

const (
	// defaultStorageClass is the class the install suite's cluster gets.
	defaultStorageClass = "standard"
	// defaultClassAnnotation marks a cluster's default StorageClass.
	defaultClassAnnotation = "storageclass.kubernetes.io/is-default-class"
)

// With no default StorageClass, a claim without a class never binds, and
// the Recreate strategy would already have removed the running pod: the
// chart refuses the release instead, naming what to set.
var _ = Describe("the history's claim on a cluster without a default StorageClass", Ordered, func() {
	const ns = "crmflow-noclass"
	setDefault := func(on string) {
		var sc storagev1.StorageClass
		Expect(admin.Get(ctx, types.NamespacedName{Name: defaultStorageClass}, &sc)).To(Succeed())
		sc.Annotations[defaultClassAnnotation] = on
		Expect(admin.Update(ctx, &sc)).To(Succeed())
	}
	BeforeAll(func() {
		setDefault("false")
		DeferCleanup(setDefault, "true")
	})
	helmInstall := func(set ...string) (string, error) {
		args := []string{"install", "noclass", chartDir, "--kubeconfig", adminConfig, "--namespace", ns,
			"--create-namespace", "--skip-crds", "--set", "webhook.enabled=false"}
		for _, s := range set {
			args = append(args, "--set", s)
		}
		return run(helmBinary(GinkgoT()), args...)
	}

	It("refuses the release, naming the values that fix it, and creates nothing", func() {
		out, err := helmInstall()
		Expect(err).To(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("no default StorageClass"))
		Expect(out).To(ContainSubstring("history.persistence.storageClassName"))
		var pvc corev1.PersistentVolumeClaim
		err = admin.Get(ctx, types.NamespacedName{Namespace: ns, Name: "noclass-crmflow-history"}, &pvc)
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "claim: %v", err)
	})

	It("installs once a class is named", func() {
		out, err := helmInstall("history.persistence.storageClassName=" + defaultStorageClass)
		Expect(err).NotTo(HaveOccurred(), out)
		var pvc corev1.PersistentVolumeClaim
		Expect(admin.Get(ctx, types.NamespacedName{Namespace: ns, Name: "noclass-crmflow-history"}, &pvc)).To(Succeed())
		Expect(pvc.Spec.StorageClassName).To(HaveValue(Equal(defaultStorageClass)))
		out, err = run(helmBinary(GinkgoT()), "uninstall", "noclass", "--kubeconfig", adminConfig, "--namespace", ns)
		Expect(err).NotTo(HaveOccurred(), out)
	})
})
