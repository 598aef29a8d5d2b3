//go:build !unit

package chart

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
)

// The history claim through a release's life, against the real API server:
// the switch of an installed Deployment from a rolling update to Recreate
// (the API server refuses Recreate next to the rollingUpdate it defaulted,
// so Helm's patch must drop it), and back; the claim kept by helm uninstall
// and by an upgrade that turns persistence off; and taken over again by the
// next install of the same release, so the history (and its deduplication
// keys) goes on. envtest runs no storage provisioner and no pods: the claim
// stays Pending, which the API server does not mind.
var _ = Describe("the run history's claim across upgrade and uninstall", Ordered, func() {
	const (
		release = "keep"
		ns      = "crmflow-keep"
		pvcName = "keep-crmflow-history"
	)
	helmRun := func(args ...string) string {
		out, err := run(helmBinary(GinkgoT()), append(append([]string{}, args...),
			"--kubeconfig", adminConfig, "--namespace", ns)...)
		Expect(err).NotTo(HaveOccurred(), out)
		return out
	}
	chart := func(verb string, set ...string) string {
		args := []string{verb, release, chartDir, "--skip-crds", "--set", "webhook.enabled=false"}
		if verb == "install" {
			args = append(args, "--create-namespace")
		}
		for _, s := range set {
			args = append(args, "--set", s)
		}
		return helmRun(args...)
	}
	deployment := func() appsv1.Deployment {
		var dep appsv1.Deployment
		Expect(admin.Get(ctx, types.NamespacedName{Namespace: ns, Name: "keep-crmflow"}, &dep)).To(Succeed())
		return dep
	}
	claim := func() (corev1.PersistentVolumeClaim, error) {
		var pvc corev1.PersistentVolumeClaim
		err := admin.Get(ctx, types.NamespacedName{Namespace: ns, Name: pvcName}, &pvc)
		return pvc, err
	}
	var uid types.UID

	It("installs without persistence: an emptyDir, a rolling update and a warning", func() {
		out := chart("install", "history.persistence.enabled=false")
		Expect(out).To(ContainSubstring("WARNING: the run history is on an emptyDir"))
		dep := deployment()
		Expect(dep.Spec.Strategy.Type).To(Equal(appsv1.RollingUpdateDeploymentStrategyType))
		Expect(dep.Spec.Strategy.RollingUpdate).NotTo(BeNil(), "defaulted by the API server")
		_, err := claim()
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "no claim: %v", err)
	})

	It("switches to the claim and Recreate on helm upgrade", func() {
		out := chart("upgrade")
		Expect(out).NotTo(ContainSubstring("WARNING"))
		Expect(out).To(ContainSubstring("Run history: SQLite on the PersistentVolumeClaim " + pvcName))
		pvc, err := claim()
		Expect(err).NotTo(HaveOccurred())
		Expect(pvc.Annotations).To(HaveKeyWithValue("helm.sh/resource-policy", "keep"))
		Expect(pvc.Spec.AccessModes).To(ConsistOf(corev1.ReadWriteOnce))
		uid = pvc.UID
		dep := deployment()
		Expect(dep.Spec.Strategy.Type).To(Equal(appsv1.RecreateDeploymentStrategyType))
		Expect(dep.Spec.Strategy.RollingUpdate).To(BeNil())
		Expect(dep.Spec.Template.Spec.Volumes).To(ContainElement(HaveField("VolumeSource.PersistentVolumeClaim.ClaimName", pvcName)))
	})

	It("keeps the claim when an upgrade turns persistence off, and takes it back", func() {
		chart("upgrade", "history.persistence.enabled=false")
		dep := deployment()
		Expect(dep.Spec.Strategy.Type).To(Equal(appsv1.RollingUpdateDeploymentStrategyType))
		pvc, err := claim()
		Expect(err).NotTo(HaveOccurred(), "resource-policy keep")
		Expect(pvc.UID).To(Equal(uid))

		chart("upgrade")
		Expect(deployment().Spec.Strategy.Type).To(Equal(appsv1.RecreateDeploymentStrategyType))
		pvc, err = claim()
		Expect(err).NotTo(HaveOccurred())
		Expect(pvc.UID).To(Equal(uid))
	})

	It("keeps the claim on helm uninstall, and the next install of the release takes it over", func() {
		out := helmRun("uninstall", release)
		Expect(out).To(ContainSubstring("kept due to the resource policy"))
		Expect(out).To(ContainSubstring(pvcName))
		pvc, err := claim()
		Expect(err).NotTo(HaveOccurred())
		Expect(pvc.UID).To(Equal(uid))
		Expect(pvc.DeletionTimestamp).To(BeNil())

		chart("install")
		pvc, err = claim()
		Expect(err).NotTo(HaveOccurred())
		Expect(pvc.UID).To(Equal(uid), "the same claim, with the same history")
		Expect(deployment().Spec.Template.Spec.Volumes).To(ContainElement(HaveField("VolumeSource.PersistentVolumeClaim.ClaimName", pvcName)))
		helmRun("uninstall", release)
	})
})
