//go:build !unit

package chart

import (
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// TestTemplateHistoryDSNSecret: the PostgreSQL DSN from history.dsnSecret
// joins the container's one env list, next to POD_NAMESPACE and manager.env,
// instead of a second `env:` key that drops them (or fails to parse).
func TestTemplateHistoryDSNSecret(t *testing.T) {
	g := NewWithT(t)
	r := renderChart(t, "--set", "history.dsnSecret=crmflow-pg,manager.env[0].name=EXTRA,manager.env[0].value=x")
	var dep appsv1.Deployment
	r.get(t, "Deployment", "crmflow", &dep)
	env := dep.Spec.Template.Spec.Containers[0].Env
	g.Expect(env).To(ContainElement(HaveField("Name", "POD_NAMESPACE")))
	g.Expect(env).To(ContainElement(corev1.EnvVar{Name: "EXTRA", Value: "x"}))
	g.Expect(env).To(ContainElement(corev1.EnvVar{Name: "CRMFLOW_HISTORY_DSN", ValueFrom: &corev1.EnvVarSource{
		SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "crmflow-pg"}, Key: "dsn"},
	}}))
}

// TestTemplateReplicasNeedSharedHistory: several replicas with the embedded
// SQLite history (an emptyDir, or history.existingClaim) would each keep
// their own store, so the chart refuses them with a message naming the fix;
// with history.dsnSecret, or a store set by hand, they render.
func TestTemplateReplicasNeedSharedHistory(t *testing.T) {
	g := NewWithT(t)
	for _, set := range []string{"replicaCount=2", "replicaCount=3,history.existingClaim=crmflow-history"} {
		_, err := helm(t, "template", "crmflow", chartDir, "--set", set)
		g.Expect(err).To(MatchError(ContainSubstring("set history.dsnSecret")), set)
	}
	for _, set := range []string{"replicaCount=2,history.dsnSecret=crmflow-pg", "replicaCount=2,manager.extraArgs[0]=--history-dsn=none", "replicaCount=0"} {
		var dep appsv1.Deployment
		renderChart(t, "--set", set).get(t, "Deployment", "crmflow", &dep)
	}
}

// TestTemplateHistoryClaimRecreates: with the SQLite history on
// history.existingClaim the old pod lets go of the volume before the new one
// starts; a rolling update would wait for ever on a ReadWriteOnce volume held
// by the old pod on another node. The existing claim wins over the chart's.
func TestTemplateHistoryClaimRecreates(t *testing.T) {
	g := NewWithT(t)
	r := renderChart(t, "--set", "history.existingClaim=crmflow-history-mine")
	var dep appsv1.Deployment
	r.get(t, "Deployment", "crmflow", &dep)
	g.Expect(dep.Spec.Strategy.Type).To(Equal(appsv1.RecreateDeploymentStrategyType))
	g.Expect(dep.Spec.Template.Spec.Volumes).To(ContainElement(And(HaveField("Name", "history"),
		HaveField("VolumeSource.PersistentVolumeClaim.ClaimName", "crmflow-history-mine"))))
	g.Expect(r.has("PersistentVolumeClaim")).To(BeFalse(), "history.existingClaim: the chart creates no claim")

	for _, set := range []string{"history.persistence.enabled=false", "history.dsnSecret=crmflow-pg,history.existingClaim=crmflow-history"} {
		var rolling appsv1.Deployment
		renderChart(t, "--set", set).get(t, "Deployment", "crmflow", &rolling)
		g.Expect(rolling.Spec.Strategy.Type).To(BeEmpty(), "%s: the default rolling update", set)
	}
}

// historyVolume is the pod's volume named history.
func historyVolume(t *testing.T, dep *appsv1.Deployment) *corev1.Volume {
	t.Helper()
	for i := range dep.Spec.Template.Spec.Volumes {
		if v := &dep.Spec.Template.Spec.Volumes[i]; v.Name == "history" {
			return v
		}
	}
	t.Fatalf("the pod has no history volume: %v", dep.Spec.Template.Spec.Volumes)
	return nil
}

// TestTemplateHistoryPersistsByDefault: the run history is what deduplicates
// an event once its run has left etcd (10-20 s after it finished), so by
// default it lives on a claim the chart creates, not on an emptyDir that
// every restart, rollout and upgrade empties. One pod mounts it at a time
// (Recreate), the non-root manager may write it (fsGroup), and helm
// uninstall keeps it.
func TestTemplateHistoryPersistsByDefault(t *testing.T) {
	g := NewWithT(t)
	r := renderChart(t)
	var pvc corev1.PersistentVolumeClaim
	r.get(t, "PersistentVolumeClaim", "crmflow-history", &pvc)
	g.Expect(pvc.Namespace).To(Equal("crmflow-system"))
	g.Expect(pvc.Spec.AccessModes).To(ConsistOf(corev1.ReadWriteOnce))
	g.Expect(pvc.Spec.Resources.Requests.Storage().String()).To(Equal("2Gi"))
	g.Expect(pvc.Spec.StorageClassName).To(BeNil(), "the cluster's default storage class")
	g.Expect(pvc.Annotations).To(HaveKeyWithValue("helm.sh/resource-policy", "keep"))
	g.Expect(pvc.Labels).To(HaveKeyWithValue("app.kubernetes.io/instance", "crmflow"))

	var dep appsv1.Deployment
	r.get(t, "Deployment", "crmflow", &dep)
	g.Expect(historyVolume(t, &dep).PersistentVolumeClaim).NotTo(BeNil())
	g.Expect(historyVolume(t, &dep).PersistentVolumeClaim.ClaimName).To(Equal(pvc.Name))
	g.Expect(dep.Spec.Template.Spec.Containers[0].VolumeMounts).To(ContainElement(corev1.VolumeMount{Name: "history", MountPath: "/var/lib/crmflow"}))
	g.Expect(dep.Spec.Strategy.Type).To(Equal(appsv1.RecreateDeploymentStrategyType))
	g.Expect(dep.Spec.Strategy.RollingUpdate).To(BeNil())
	sc := dep.Spec.Template.Spec.SecurityContext
	g.Expect(sc.FSGroup).To(HaveValue(Equal(int64(65532))), "the volume is writable by the manager's group")
	g.Expect(sc.FSGroupChangePolicy).To(HaveValue(Equal(corev1.FSGroupChangeOnRootMismatch)))

	custom := renderChart(t, "--set", "history.persistence.size=20Gi,history.persistence.storageClassName=fast-ssd,"+
		"history.persistence.accessModes[0]=ReadWriteOncePod,history.persistence.resourcePolicy=,fullnameOverride=crm",
		"--set-string", "history.persistence.annotations.backup\\.example\\.com/include=true")
	var c corev1.PersistentVolumeClaim
	custom.get(t, "PersistentVolumeClaim", "crm-history", &c)
	g.Expect(c.Spec.Resources.Requests.Storage().String()).To(Equal("20Gi"))
	g.Expect(c.Spec.StorageClassName).To(HaveValue(Equal("fast-ssd")))
	g.Expect(c.Spec.AccessModes).To(ConsistOf(corev1.ReadWriteOncePod))
	g.Expect(c.Annotations).To(Equal(map[string]string{"backup.example.com/include": "true"}), "no resource policy: Helm deletes it with the release")
	var cd appsv1.Deployment
	custom.get(t, "Deployment", "crm", &cd)
	g.Expect(historyVolume(t, &cd).PersistentVolumeClaim.ClaimName).To(Equal("crm-history"))

	var static corev1.PersistentVolumeClaim
	renderChart(t, "--set", "history.persistence.storageClassName=-").get(t, "PersistentVolumeClaim", "crmflow-history", &static)
	g.Expect(static.Spec.StorageClassName).To(HaveValue(BeEmpty()), `"-": no dynamic provisioning`)

	for name, set := range map[string]string{
		"bad size":           "history.persistence.size=lots",
		"read-only access":   "history.persistence.accessModes[0]=ReadOnlyMany",
		"bad resourcePolicy": "history.persistence.resourcePolicy=delete",
	} {
		_, err := helm(t, "template", "crmflow", chartDir, "--set", set)
		g.Expect(err).To(HaveOccurred(), "%s: values.schema.json must refuse %s", name, set)
	}
}

// TestTemplateHistoryWithoutPersistence: persistence off keeps the history
// on an emptyDir, creates no claim, rolls, and NOTES says plainly what is
// lost; PostgreSQL needs no claim at all.
func TestTemplateHistoryWithoutPersistence(t *testing.T) {
	g := NewWithT(t)
	for _, set := range []string{"history.persistence.enabled=false", "history.dsnSecret=crmflow-pg", "manager.extraArgs[0]=--history-dsn=none"} {
		r := renderChart(t, "--set", set)
		g.Expect(r.has("PersistentVolumeClaim")).To(BeFalse(), "%s: no claim", set)
		var dep appsv1.Deployment
		r.get(t, "Deployment", "crmflow", &dep)
		g.Expect(historyVolume(t, &dep).EmptyDir).NotTo(BeNil(), set)
		g.Expect(historyVolume(t, &dep).PersistentVolumeClaim).To(BeNil(), set)
		g.Expect(dep.Spec.Strategy.Type).To(BeEmpty(), "%s: the default rolling update", set)
	}

	notes := renderNotes(t, "--set", "history.persistence.enabled=false")
	g.Expect(notes).To(ContainSubstring("WARNING: the run history is on an emptyDir"))
	g.Expect(notes).To(ContainSubstring("enrols it again: duplicate emails and CRM commands"))
	for _, set := range []string{"history.persistence.enabled=true", "history.existingClaim=crmflow-history-mine", "history.dsnSecret=crmflow-pg"} {
		g.Expect(renderNotes(t, "--set", set)).NotTo(ContainSubstring("WARNING"), set)
	}
	g.Expect(renderNotes(t)).To(ContainSubstring("Run history: SQLite on the PersistentVolumeClaim crmflow-history"))
	g.Expect(renderNotes(t, "--set", "history.existingClaim=crmflow-history-mine")).To(ContainSubstring("PersistentVolumeClaim crmflow-history-mine"))
	g.Expect(renderNotes(t, "--set", "history.dsnSecret=crmflow-pg")).To(ContainSubstring("Run history: PostgreSQL"))
}

// TestTemplateHistoryEgress: with the PostgreSQL history the default egress
// policy lets the manager reach the database (it exits at start-up when it
// cannot migrate the store); without it, no such hole.
func TestTemplateHistoryEgress(t *testing.T) {
	g := NewWithT(t)
	egressPorts := func(r rendered) []int32 {
		var np networkingv1.NetworkPolicy
		r.get(t, "NetworkPolicy", "", &np)
		var ports []int32
		for _, rule := range np.Spec.Egress {
			for _, p := range rule.Ports {
				ports = append(ports, p.Port.IntVal)
			}
		}
		return ports
	}
	g.Expect(egressPorts(renderChart(t, "--set", "history.dsnSecret=crmflow-pg"))).To(ContainElement(int32(5432)))
	g.Expect(egressPorts(renderChart(t))).NotTo(ContainElement(int32(5432)))
	g.Expect(egressPorts(renderChart(t, "--set", "history.dsnSecret=crmflow-pg,networkPolicy.egress.historyPorts=null"))).NotTo(ContainElement(int32(5432)))
}
