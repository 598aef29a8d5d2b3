//go:build !unit

package chart

import (
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// TestTemplateConsole: console.enabled adds the manager's flag, a named
// port, a Service and a NetworkPolicy rule; off (the default) adds none.
func TestTemplateConsole(t *testing.T) {
	g := NewWithT(t)
	off := renderChart(t)
	var dep appsv1.Deployment
	off.get(t, "Deployment", "crmflow", &dep)
	g.Expect(dep.Spec.Template.Spec.Containers[0].Args).NotTo(ContainElement(HavePrefix("--console-bind-address")))
	g.Expect(off.kinds()).NotTo(ContainElement("Service/crmflow-console"))

	on := renderChart(t, "--set", "console.enabled=true,console.port=9191,networkPolicy.enabled=true")
	on.get(t, "Deployment", "crmflow", &dep)
	c := dep.Spec.Template.Spec.Containers[0]
	g.Expect(c.Args).To(ContainElement("--console-bind-address=:9191"))
	g.Expect(containerPort(&c, "console")).To(Equal(int32(9191)))
	var svc corev1.Service
	on.get(t, "Service", "crmflow-console", &svc)
	g.Expect(svc.Spec.Ports).To(HaveLen(1))
	g.Expect(svc.Spec.Ports[0].TargetPort.StrVal).To(Equal("console"))
	var np networkingv1.NetworkPolicy
	on.get(t, "NetworkPolicy", "", &np)
	var ports []int32
	for _, rule := range np.Spec.Ingress {
		for _, p := range rule.Ports {
			ports = append(ports, p.Port.IntVal)
		}
	}
	g.Expect(ports).To(ContainElement(int32(9191)))
}
