//go:build !unit

package chart

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/types"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	rbacv1 "k8s.io/api/rbac/v1"
)

// TestCRDsMatchConfig fails when charts/crmflow/crds drifted from
// config/crd/bases: run `make manifests` to copy them again.
func TestCRDsMatchConfig(t *testing.T) {
	want, err := filepath.Glob(filepath.Join(root, "config", "crd", "bases", "*.yaml"))
	if err != nil || len(want) == 0 {
		t.Fatalf("no CRDs in config/crd/bases (%v)", err)
	}
	have, err := filepath.Glob(filepath.Join(chartDir, "crds", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if names(have) != names(want) {
		t.Fatalf("charts/crmflow/crds holds %s but config/crd/bases holds %s; run `make manifests`", names(have), names(want))
	}
	for _, w := range want {
		a, err := os.ReadFile(w)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(chartDir, "crds", filepath.Base(w)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("charts/crmflow/crds/%s differs from config/crd/bases; run `make manifests`", filepath.Base(w))
		}
	}
}

func names(paths []string) string {
	var out []string
	for _, p := range paths {
		out = append(out, filepath.Base(p))
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// TestEveryValueDocumented fails when a value in values.yaml has no row in the chart README.
func TestEveryValueDocumented(t *testing.T) {
	var values map[string]any
	readYAML(t, filepath.Join(chartDir, "values.yaml"), &values)
	readme, err := os.ReadFile(filepath.Join(chartDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	keys := leafKeys("", values)
	if len(keys) < 40 {
		t.Fatalf("expected the full values tree, got %d keys", len(keys))
	}
	for _, k := range keys {
		if !bytes.Contains(readme, []byte("| `"+k+"` |")) {
			t.Errorf("value %s is not documented in charts/crmflow/README.md", k)
		}
	}
}

// leafKeys lists dotted keys down to scalars, lists and empty maps. The
// resources map is documented as a whole.
func leafKeys(prefix string, m map[string]any) []string {
	var out []string
	for k, v := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		sub, ok := v.(map[string]any)
		if ok && len(sub) > 0 && key != "resources" {
			out = append(out, leafKeys(key, sub)...)
			continue
		}
		out = append(out, key)
	}
	sort.Strings(out)
	return out
}

// TestRBACMatchesMarkers fails when the chart's ClusterRole grants more or
// less than config/rbac/role.yaml, which controller-gen generates from the
// controllers' +kubebuilder:rbac markers.
func TestRBACMatchesMarkers(t *testing.T) {
	path := filepath.Join(root, "config", "rbac", "role.yaml")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("config/rbac/role.yaml is missing: run `make manifests` (%v)", err)
	}
	var generated rbacv1.ClusterRole
	readYAML(t, path, &generated)
	var role rbacv1.ClusterRole
	renderChart(t).get(t, "ClusterRole", "crmflow-manager", &role)
	NewWithT(t).Expect(permissions(role.Rules)).To(Equal(permissions(generated.Rules)),
		"charts/crmflow/files/manager-rules.yaml must grant exactly what config/rbac/role.yaml grants")
}

// permissions flattens rules into sorted "group/resource:verb" entries,
// "group/resource[name]:verb" for rules restricted by resourceNames.
func permissions(rules []rbacv1.PolicyRule) []string {
	set := map[string]bool{}
	for _, r := range rules {
		names := r.ResourceNames
		if len(names) == 0 {
			names = []string{""}
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, n := range names {
					if n != "" {
						n = "[" + n + "]"
					}
					for _, v := range r.Verbs {
						set[fmt.Sprintf("%s/%s%s:%s", g, res, n, v)] = true
					}
				}
			}
		}
		for _, u := range r.NonResourceURLs {
			for _, v := range r.Verbs {
				set[u+":"+v] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestWebhookPathsMatchMarkers fails when the chart registers webhooks other
// than those config/webhook/manifests.yaml generates from the +kubebuilder:webhook markers.
func TestWebhookPathsMatchMarkers(t *testing.T) {
	g := NewWithT(t)
	raw, err := os.ReadFile(filepath.Join(root, "config", "webhook", "manifests.yaml"))
	if err != nil {
		t.Fatalf("config/webhook/manifests.yaml is missing: run `make manifests` (%v)", err)
	}
	generated := parseManifests(t, string(raw))
	chart := renderChart(t)
	g.Expect(webhookRules(t, chart)).To(Equal(webhookRules(t, generated)))
}

// webhookRules summarises every webhook as "kind name path operations resources".
func webhookRules(t *testing.T, r rendered) []string {
	var out []string
	for _, o := range r.objects {
		switch o.GetKind() {
		case "MutatingWebhookConfiguration":
			var c admissionv1.MutatingWebhookConfiguration
			r.get(t, o.GetKind(), o.GetName(), &c)
			for i := range c.Webhooks {
				w := &c.Webhooks[i]
				out = append(out, fmt.Sprintf("mutating %s %s %v %v", w.Name, *w.ClientConfig.Service.Path, w.Rules[0].Operations, w.Rules[0].Resources))
			}
		case "ValidatingWebhookConfiguration":
			var c admissionv1.ValidatingWebhookConfiguration
			r.get(t, o.GetKind(), o.GetName(), &c)
			for i := range c.Webhooks {
				w := &c.Webhooks[i]
				out = append(out, fmt.Sprintf("validating %s %s %v %v", w.Name, *w.ClientConfig.Service.Path, w.Rules[0].Operations, w.Rules[0].Resources))
			}
		}
	}
	sort.Strings(out)
	return out
}

// verifyServingCert checks that certPEM chains to caPEM and is valid for dnsName.
func verifyServingCert(g types.Gomega, caPEM, certPEM []byte, dnsName string) {
	pool := x509.NewCertPool()
	g.Expect(pool.AppendCertsFromPEM(caPEM)).To(BeTrue(), "ca.crt must be PEM")
	block, _ := pem.Decode(certPEM)
	g.Expect(block).NotTo(BeNil(), "tls.crt must be PEM")
	cert, err := x509.ParseCertificate(block.Bytes)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = cert.Verify(x509.VerifyOptions{DNSName: dnsName, Roots: pool})
	g.Expect(err).NotTo(HaveOccurred())
}
