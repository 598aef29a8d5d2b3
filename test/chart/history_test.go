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
// by the old pod on another node.
func TestTemplateHistoryClaimRecreates(t *testing.T) {
	g := NewWithT(t)
	var dep appsv1.Deployment
	renderChart(t, "--set", "history.existingClaim=crmflow-history").get(t, "Deployment", "crmflow", &dep)
	g.Expect(dep.Spec.Strategy.Type).To(Equal(appsv1.RecreateDeploymentStrategyType))
	g.Expect(dep.Spec.Template.Spec.Volumes).To(ContainElement(HaveField("VolumeSource.PersistentVolumeClaim.ClaimName", "crmflow-history")))

	for _, set := range []string{"history.existingClaim=", "history.dsnSecret=crmflow-pg,history.existingClaim=crmflow-history"} {
		var rolling appsv1.Deployment
		renderChart(t, "--set", set).get(t, "Deployment", "crmflow", &rolling)
		g.Expect(rolling.Spec.Strategy.Type).To(BeEmpty(), "%s: the default rolling update", set)
	}
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
