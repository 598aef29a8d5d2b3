//go:build !unit

package chart

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
)

// TestREADMEListsTheClusterRole fails when the chart README's table of the
// manager's ClusterRole ("exactly what the chart grants") says more or less
// than config/rbac/role.yaml: a reviewer deciding whether to install the
// chart reads that table, not the generated YAML.
func TestREADMEListsTheClusterRole(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(chartDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	start := strings.Index(readme, "ClusterRole `<release>-crmflow-manager`")
	end := strings.Index(readme, "### What a Workflow author can do")
	if start < 0 || end < start {
		t.Fatal("the README has no ClusterRole table before \"What a Workflow author can do\"")
	}
	var documented []rbacv1.PolicyRule
	for _, line := range strings.Split(readme[start:end], "\n") {
		cols := strings.Split(line, "|")
		if len(cols) < 5 || !strings.HasPrefix(strings.TrimSpace(cols[1]), "`") {
			continue // not a row, the header or the separator
		}
		documented = append(documented, readmeRule(t, cols[1], cols[2], cols[3]))
	}
	var generated rbacv1.ClusterRole
	readYAML(t, filepath.Join(root, "config", "rbac", "role.yaml"), &generated)
	NewWithT(t).Expect(permissions(documented)).To(Equal(permissions(generated.Rules)),
		"the ClusterRole table in charts/crmflow/README.md must list exactly what config/rbac/role.yaml grants")
}

var backticked = regexp.MustCompile("`([^`]*)`")

// readmeRule reads one row: "`group`", "`res`[, `res`][ named `name`]", "verb, verb".
func readmeRule(t *testing.T, group, resources, verbs string) rbacv1.PolicyRule {
	t.Helper()
	var rule rbacv1.PolicyRule
	g := backticked.FindStringSubmatch(group)
	if g == nil {
		t.Fatalf("README RBAC row without a group: %q", group)
	}
	if g[1] == `""` {
		g[1] = ""
	}
	rule.APIGroups = []string{g[1]}
	res, names, _ := strings.Cut(resources, " named ")
	for _, m := range backticked.FindAllStringSubmatch(res, -1) {
		rule.Resources = append(rule.Resources, m[1])
	}
	if n := backticked.FindStringSubmatch(names); n != nil {
		rule.ResourceNames = []string{n[1]}
	}
	for _, v := range strings.Split(verbs, ",") {
		rule.Verbs = append(rule.Verbs, strings.TrimSpace(v))
	}
	return rule
}
