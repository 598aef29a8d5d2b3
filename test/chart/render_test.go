//go:build !unit

package chart

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// root is the repository root, seen from this package.
var root = filepath.Join("..", "..")

// chartDir is the chart under test.
var chartDir = filepath.Join(root, "charts", "crmflow")

// helmVersion is the Helm the Makefile builds (HELM_VERSION).
const helmVersion = "v3.22.0"

// helmBinary finds the Helm that `make helm` built, or $HELM_BIN (the Makefile exports it).
func helmBinary(t interface {
	Helper()
	Fatalf(string, ...any)
}) string {
	t.Helper()
	if h := os.Getenv("HELM_BIN"); h != "" {
		return h
	}
	p, err := filepath.Abs(filepath.Join(root, "bin", "helm-"+helmVersion))
	if err != nil {
		t.Fatalf("resolve helm path: %v", err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("helm not found at %s: run `make helm` first (or set HELM_BIN): %v", p, err)
	}
	return p
}

// helm runs helm with args and returns stdout, or the error with stderr.
func helm(t testing.TB, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(helmBinary(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), errors.New(err.Error() + ": " + stderr.String())
	}
	return stdout.String(), nil
}

// rendered is the output of helm template, indexed by kind and name.
type rendered struct {
	objects []*unstructured.Unstructured
}

// renderChart runs `helm template` with extra arguments and parses every document.
func renderChart(t testing.TB, args ...string) rendered {
	t.Helper()
	out, err := helm(t, append([]string{"template", "crmflow", chartDir, "--namespace", "crmflow-system"}, args...)...)
	if err != nil {
		t.Fatalf("helm template %v: %v", args, err)
	}
	return parseManifests(t, out)
}

// renderNotes renders the chart's NOTES.txt, which helm template leaves out,
// through a copy of the chart with one more template that includes it.
func renderNotes(t testing.TB, args ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "crmflow")
	if err := os.CopyFS(dir, os.DirFS(chartDir)); err != nil {
		t.Fatalf("copy the chart: %v", err)
	}
	probe := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: {{ include \"crmflow/templates/NOTES.txt\" . | quote }}\n"
	if err := os.WriteFile(filepath.Join(dir, "templates", "zz-notes.yaml"), []byte(probe), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := helm(t, append([]string{"template", "crmflow", dir, "--namespace", "crmflow-system", "--show-only", "templates/zz-notes.yaml"}, args...)...)
	if err != nil {
		t.Fatalf("helm template %v: %v", args, err)
	}
	var cm corev1.ConfigMap
	parseManifests(t, out).get(t, "ConfigMap", "notes", &cm)
	return cm.Data["notes"]
}

// parseManifests splits a multi-document YAML stream into objects.
func parseManifests(t testing.TB, manifest string) rendered {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	var r rendered
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatalf("parse rendered manifests: %v", err)
		}
		if len(obj) == 0 {
			continue
		}
		r.objects = append(r.objects, &unstructured.Unstructured{Object: obj})
	}
	return r
}

// kinds lists "Kind/name" of every object, sorted.
func (r rendered) kinds() []string {
	var out []string
	for _, o := range r.objects {
		out = append(out, o.GetKind()+"/"+o.GetName())
	}
	sort.Strings(out)
	return out
}

// get converts the one object of kind (and name, when not empty) into into.
func (r rendered) get(t testing.TB, kind, name string, into any) {
	t.Helper()
	for _, o := range r.objects {
		if o.GetKind() == kind && (name == "" || o.GetName() == name) {
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, into); err != nil {
				t.Fatalf("convert %s/%s: %v", kind, o.GetName(), err)
			}
			return
		}
	}
	t.Fatalf("no %s %q rendered; have %v", kind, name, r.kinds())
}

// has reports whether an object of kind is rendered.
func (r rendered) has(kind string) bool {
	for _, o := range r.objects {
		if o.GetKind() == kind {
			return true
		}
	}
	return false
}

func TestHelmLint(t *testing.T) {
	for _, args := range [][]string{
		{"lint", "--strict", chartDir},
		{"lint", "--strict", chartDir, "-f", filepath.Join("testdata", "nondefault-values.yaml")},
		{"lint", "--strict", chartDir, "--set", "webhook.enabled=false,metrics.enabled=false,leaderElection.enabled=false"},
	} {
		if out, err := helm(t, args...); err != nil {
			t.Errorf("helm %v failed: %v\n%s", args, err, out)
		}
	}
}

func TestTemplateDefaults(t *testing.T) {
	g := NewWithT(t)
	r := renderChart(t)
	g.Expect(r.kinds()).To(Equal([]string{
		"ClusterRole/crmflow-manager",
		"ClusterRoleBinding/crmflow-manager",
		"Deployment/crmflow",
		"MutatingWebhookConfiguration/crmflow-mutating",
		"NetworkPolicy/crmflow",
		"PersistentVolumeClaim/crmflow-history",
		"Role/crmflow-leader-election",
		"RoleBinding/crmflow-leader-election",
		"Secret/crmflow-webhook-cert",
		"Service/crmflow-metrics",
		"Service/crmflow-receiver",
		"Service/crmflow-webhook",
		"ServiceAccount/crmflow",
		"ValidatingWebhookConfiguration/crmflow-validating",
	}))

	// Egress is restricted by default, with the documented holes only:
	// DNS, the API server's ports, and actions on their ports everywhere but
	// link-local (cloud metadata).
	var np networkingv1.NetworkPolicy
	r.get(t, "NetworkPolicy", "", &np)
	g.Expect(np.Spec.PolicyTypes).To(ConsistOf(networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress))
	g.Expect(np.Spec.Egress).To(HaveLen(3))
	g.Expect(np.Spec.Egress[0].Ports).To(HaveLen(2))
	g.Expect(np.Spec.Egress[0].Ports[0].Port.IntVal).To(Equal(int32(53)))
	g.Expect(np.Spec.Egress[1].To).To(BeEmpty())
	actions := np.Spec.Egress[2]
	g.Expect(actions.To).To(HaveLen(1))
	g.Expect(actions.To[0].IPBlock.CIDR).To(Equal("0.0.0.0/0"))
	g.Expect(actions.To[0].IPBlock.Except).To(ConsistOf("169.254.0.0/16"))

	var dep appsv1.Deployment
	r.get(t, "Deployment", "crmflow", &dep)
	g.Expect(*dep.Spec.Replicas).To(Equal(int32(1)))
	pod := dep.Spec.Template.Spec
	g.Expect(pod.ServiceAccountName).To(Equal("crmflow"))
	g.Expect(*pod.SecurityContext.RunAsNonRoot).To(BeTrue())
	g.Expect(pod.SecurityContext.SeccompProfile.Type).To(Equal(corev1.SeccompProfileTypeRuntimeDefault))
	g.Expect(pod.Containers).To(HaveLen(1))
	c := pod.Containers[0]
	g.Expect(c.Image).To(Equal("ghcr.io/crmflow/crmflow:0.1.0"))
	sc := c.SecurityContext
	g.Expect(*sc.AllowPrivilegeEscalation).To(BeFalse())
	g.Expect(*sc.ReadOnlyRootFilesystem).To(BeTrue())
	g.Expect(*sc.RunAsNonRoot).To(BeTrue())
	g.Expect(sc.Capabilities.Drop).To(ConsistOf(corev1.Capability("ALL")))
	g.Expect(sc.Capabilities.Add).To(BeEmpty())
	g.Expect(sc.SeccompProfile.Type).To(Equal(corev1.SeccompProfileTypeRuntimeDefault))
	g.Expect(c.LivenessProbe.HTTPGet.Path).To(Equal("/healthz"))
	g.Expect(c.ReadinessProbe.HTTPGet.Path).To(Equal("/readyz"))
	g.Expect(containerPort(&c, c.LivenessProbe.HTTPGet.Port.StrVal)).To(Equal(int32(8081)))
	g.Expect(c.Resources.Requests.Cpu().String()).To(Equal("100m"))
	g.Expect(c.Resources.Limits.Memory().String()).To(Equal("512Mi"))
	g.Expect(c.Args).To(ContainElements(
		"--leader-elect",
		"--health-probe-bind-address=:8081",
		"--metrics-bind-address=:8082",
		"--receiver-bind-address=:8080",
		"--webhook-port=9443",
		"--max-hops=8",
		"--max-event-bytes=65536",
	))
	g.Expect(c.VolumeMounts).To(ContainElement(HaveField("MountPath", "/tmp/k8s-webhook-server/serving-certs")))

	var receiver, webhookSvc corev1.Service
	r.get(t, "Service", "crmflow-receiver", &receiver)
	g.Expect(receiver.Spec.Ports).To(HaveLen(1))
	g.Expect(receiver.Spec.Ports[0].Port).To(Equal(int32(8080)))
	g.Expect(containerPort(&c, receiver.Spec.Ports[0].TargetPort.StrVal)).To(Equal(int32(8080)))
	g.Expect(receiver.Spec.Selector).To(Equal(dep.Spec.Selector.MatchLabels))
	r.get(t, "Service", "crmflow-webhook", &webhookSvc)
	g.Expect(webhookSvc.Spec.Ports[0].Port).To(Equal(int32(443)))
	g.Expect(containerPort(&c, webhookSvc.Spec.Ports[0].TargetPort.StrVal)).To(Equal(int32(9443)))

	// The self-signed CA in the Secret is the caBundle of every webhook.
	var secret corev1.Secret
	r.get(t, "Secret", "crmflow-webhook-cert", &secret)
	g.Expect(secret.Data).To(HaveKey("tls.crt"))
	g.Expect(secret.Data).To(HaveKey("tls.key"))
	ca := secret.Data["ca.crt"]
	g.Expect(string(ca)).To(HavePrefix("-----BEGIN CERTIFICATE-----"))
	verifyServingCert(g, ca, secret.Data["tls.crt"], "crmflow-webhook.crmflow-system.svc")

	var mwc admissionv1.MutatingWebhookConfiguration
	var vwc admissionv1.ValidatingWebhookConfiguration
	r.get(t, "MutatingWebhookConfiguration", "", &mwc)
	r.get(t, "ValidatingWebhookConfiguration", "", &vwc)
	var paths []string
	for _, w := range mwc.Webhooks {
		g.Expect(w.ClientConfig.CABundle).To(Equal(ca))
		g.Expect(w.ClientConfig.Service.Name).To(Equal("crmflow-webhook"))
		g.Expect(*w.FailurePolicy).To(Equal(admissionv1.Fail))
		g.Expect(*w.SideEffects).To(Equal(admissionv1.SideEffectClassNone))
		paths = append(paths, *w.ClientConfig.Service.Path)
	}
	for _, w := range vwc.Webhooks {
		g.Expect(w.ClientConfig.CABundle).To(Equal(ca))
		paths = append(paths, *w.ClientConfig.Service.Path)
	}
	g.Expect(paths).To(ConsistOf(
		"/mutate-crmflow-io-v1alpha1-workflow",
		"/validate-crmflow-io-v1alpha1-workflow",
		"/validate-crmflow-io-v1alpha1-workflowrun",
	))

	var binding rbacv1.ClusterRoleBinding
	r.get(t, "ClusterRoleBinding", "", &binding)
	g.Expect(binding.Subjects).To(ConsistOf(rbacv1.Subject{Kind: "ServiceAccount", Name: "crmflow", Namespace: "crmflow-system"}))
	g.Expect(binding.RoleRef.Name).To(Equal("crmflow-manager"))
}

func TestTemplateNonDefaults(t *testing.T) {
	g := NewWithT(t)
	r := renderChart(t, "-f", filepath.Join("testdata", "nondefault-values.yaml"))
	g.Expect(r.has("Secret")).To(BeFalse(), "cert-manager writes the Secret, Helm must not")
	g.Expect(r.kinds()).To(ContainElements(
		"Certificate/crmflow-serving-cert",
		"Issuer/crmflow-selfsigned",
		"ServiceMonitor/crmflow",
		"NetworkPolicy/crmflow",
		"ServiceAccount/crmflow-operator",
	))

	var dep appsv1.Deployment
	r.get(t, "Deployment", "crmflow", &dep)
	g.Expect(*dep.Spec.Replicas).To(Equal(int32(3)))
	c := dep.Spec.Template.Spec.Containers[0]
	g.Expect(c.Image).To(Equal("registry.example.com/crmflow/manager@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"))
	g.Expect(c.Args).To(ContainElements("--crm-sink-url=http://crm-sink.crm.svc:8080/", "--max-hops=3", "--max-event-bytes=131072", "--zap-log-level=debug", "--some-flag=x"))
	g.Expect(dep.Spec.Template.Spec.ServiceAccountName).To(Equal("crmflow-operator"))
	g.Expect(dep.Spec.Template.Spec.ImagePullSecrets).To(ConsistOf(corev1.LocalObjectReference{Name: "regcred"}))

	cert := r.find("Certificate")
	g.Expect(cert).NotTo(BeNil())
	dns, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "dnsNames")
	g.Expect(dns).To(ContainElement("crmflow-webhook.crmflow-system.svc"))
	secretName, _, _ := unstructured.NestedString(cert.Object, "spec", "secretName")
	g.Expect(secretName).To(Equal("crmflow-webhook-cert"))

	var vwc admissionv1.ValidatingWebhookConfiguration
	r.get(t, "ValidatingWebhookConfiguration", "", &vwc)
	g.Expect(vwc.Annotations).To(HaveKeyWithValue("cert-manager.io/inject-ca-from", "crmflow-system/crmflow-serving-cert"))
	for _, w := range vwc.Webhooks {
		g.Expect(w.ClientConfig.CABundle).To(BeEmpty())
		if w.Name == "vworkflowrun-v1alpha1.crmflow.io" {
			continue // always Fail, every namespace: TestTemplateRunWebhookFailsClosed
		}
		g.Expect(*w.FailurePolicy).To(Equal(admissionv1.Ignore))
		g.Expect(w.NamespaceSelector.MatchLabels).To(HaveKeyWithValue("crmflow.io/enabled", "true"))
	}

	var receiver, metrics corev1.Service
	r.get(t, "Service", "crmflow-receiver", &receiver)
	g.Expect(receiver.Spec.Type).To(Equal(corev1.ServiceTypeLoadBalancer))
	g.Expect(receiver.Spec.Ports[0].Port).To(Equal(int32(80)))
	r.get(t, "Service", "crmflow-metrics", &metrics)
	sm := r.find("ServiceMonitor")
	sel, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
	for k, v := range sel {
		g.Expect(metrics.Labels).To(HaveKeyWithValue(k, v), "the ServiceMonitor must select the metrics Service")
	}
	g.Expect(sm.GetLabels()).To(HaveKeyWithValue("release", "prometheus"))
	var receiverSel = true
	for k, v := range sel {
		receiverSel = receiverSel && receiver.Labels[k] == v
	}
	g.Expect(receiverSel).To(BeFalse(), "the ServiceMonitor must not select the receiver Service")

	var np networkingv1.NetworkPolicy
	r.get(t, "NetworkPolicy", "", &np)
	g.Expect(np.Spec.PodSelector.MatchLabels).To(Equal(dep.Spec.Selector.MatchLabels))
	var ports []int32
	for _, rule := range np.Spec.Ingress {
		for _, p := range rule.Ports {
			ports = append(ports, p.Port.IntVal)
		}
	}
	g.Expect(ports).To(ConsistOf(int32(8080), int32(9443), int32(8082), int32(8081)))
	g.Expect(np.Spec.Ingress[0].From).To(HaveLen(1))
	g.Expect(np.Spec.PolicyTypes).To(ConsistOf(networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress))
	g.Expect(np.Spec.Egress).To(HaveLen(5), "the three holes, the PostgreSQL history's and the extra rule")
	g.Expect(np.Spec.Egress[4].To[0].IPBlock.CIDR).To(Equal("10.96.0.1/32"))
}

func TestTemplateWebhooksAndMetricsOff(t *testing.T) {
	g := NewWithT(t)
	r := renderChart(t, "--set", "webhook.enabled=false,metrics.enabled=false,leaderElection.enabled=false,serviceMonitor.enabled=true,networkPolicy.enabled=false")
	g.Expect(r.kinds()).To(Equal([]string{
		"ClusterRole/crmflow-manager",
		"ClusterRoleBinding/crmflow-manager",
		"Deployment/crmflow",
		"PersistentVolumeClaim/crmflow-history",
		"Service/crmflow-receiver",
		"ServiceAccount/crmflow",
	}))
	var dep appsv1.Deployment
	r.get(t, "Deployment", "crmflow", &dep)
	c := dep.Spec.Template.Spec.Containers[0]
	g.Expect(c.Args).NotTo(ContainElement("--leader-elect"))
	g.Expect(c.Args).To(ContainElement("--metrics-bind-address=0"))
	g.Expect(c.VolumeMounts).To(ConsistOf(HaveField("MountPath", "/tmp"), HaveField("MountPath", "/var/lib/crmflow")),
		"/tmp and the run history, no webhook certificates")
}

func TestSchemaRefusesBadValues(t *testing.T) {
	for name, set := range map[string]string{
		"unknown key":         "webhook.enabeld=true",
		"port out of range":   "receiver.port=70000",
		"bad failure policy":  "webhook.failurePolicy=Sometimes",
		"bad log level":       "manager.logLevel=verbose",
		"bad sink url":        "manager.crmSinkURL=crm.example.com",
		"negative replicas":   "replicaCount=-1",
		"bad service type":    "receiver.service.type=ExternalName",
		"bad issuer ref kind": "certManager.issuerRef.kind=Vault",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := helm(t, "template", "crmflow", chartDir, "--set", set)
			if err == nil {
				t.Fatalf("helm template --set %s succeeded; values.schema.json must refuse it", set)
			}
			if !strings.Contains(err.Error(), "schema") && !strings.Contains(err.Error(), "values don't meet") && !strings.Contains(err.Error(), "at '/") {
				t.Fatalf("expected a schema error for %s, got: %v", set, err)
			}
		})
	}
}

// find returns the first object of kind, or nil.
func (r rendered) find(kind string) *unstructured.Unstructured {
	for _, o := range r.objects {
		if o.GetKind() == kind {
			return o
		}
	}
	return nil
}

// containerPort resolves a named port of c.
func containerPort(c *corev1.Container, name string) int32 {
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	return 0
}

// readYAML reads a YAML file into out.
func readYAML(t testing.TB, path string, out any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if err := yaml.Unmarshal(raw, out); err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
}
