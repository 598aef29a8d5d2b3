//go:build !unit

package chart

import (
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
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
