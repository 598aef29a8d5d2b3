package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/yaml"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

func repoRoot() string {
	r, _ := filepath.Abs(filepath.Join("..", ".."))
	return r
}

func readWorkflow(g Gomega, path string) v1alpha1.Workflow {
	raw, err := os.ReadFile(path)
	g.Expect(err).NotTo(HaveOccurred())
	var wf v1alpha1.Workflow
	g.Expect(yaml.UnmarshalStrict(raw, &wf)).To(Succeed(), "%s", path)
	return wf
}

// The local copies are config/samples with email at the local mailbox and
// the namespace set; the rest, comments included, as it was.
func TestLocalSamplesAimEmailAtTheLocalMailbox(t *testing.T) {
	g := NewWithT(t)
	dir := filepath.Join(t.TempDir(), "samples")
	files, err := writeLocalSamples(repoRoot(), dir, "shop", "127.0.0.1", 2525)
	g.Expect(err).NotTo(HaveOccurred())
	srcs, _ := filepath.Glob(filepath.Join(repoRoot(), "config", "samples", "crmflow_v1alpha1_*.yaml"))
	g.Expect(files).To(HaveLen(len(srcs)))
	withSMTP := 0
	for _, src := range srcs {
		dst := filepath.Join(dir, filepath.Base(src))
		g.Expect(files).To(ContainElement(dst))
		orig, got := readWorkflow(g, src), readWorkflow(g, dst)
		g.Expect(got.Namespace).To(Equal("shop"))
		if orig.Spec.Connections != nil && orig.Spec.Connections.SMTP != nil {
			withSMTP++
			smtp := got.Spec.Connections.SMTP
			g.Expect(smtp.Host).To(Equal("127.0.0.1"), dst)
			g.Expect(smtp.Port).To(Equal(int32(2525)))
			g.Expect(smtp.TLS).To(Equal(v1alpha1.SMTPNone))
			g.Expect(smtp.CredentialsSecretRef).To(BeNil())
			g.Expect(smtp.From).To(Equal(orig.Spec.Connections.SMTP.From))
			orig.Spec.Connections.SMTP = smtp
		}
		orig.Namespace = "shop"
		g.Expect(got).To(Equal(orig), "only SMTP and the namespace change in %s", dst)
		text, _ := os.ReadFile(dst)
		origText, _ := os.ReadFile(src)
		firstComment := strings.SplitN(string(origText), "\n", 2)[0]
		g.Expect(string(text)).To(ContainSubstring(firstComment), "comments are kept")
		g.Expect(string(text)).To(ContainSubstring("kubectl apply -f " + dst))
		g.Expect(string(text)).NotTo(ContainSubstring("smtp.example.com"))
	}
	g.Expect(withSMTP).To(BeNumerically(">=", 2))
}

// A copy the user changed is kept on the next start; an unchanged one follows config/samples.
func TestLocalSamplesKeepTheUsersEdits(t *testing.T) {
	g := NewWithT(t)
	dir := filepath.Join(t.TempDir(), "samples")
	_, err := writeLocalSamples(repoRoot(), dir, "default", "127.0.0.1", 2525)
	g.Expect(err).NotTo(HaveOccurred())
	edited := filepath.Join(dir, "crmflow_v1alpha1_lead-follow-up.yaml")
	stale := filepath.Join(dir, "crmflow_v1alpha1_vip-routing.yaml")
	fresh, _ := os.ReadFile(stale)
	g.Expect(os.WriteFile(edited, []byte("# mine\n"), 0o644)).To(Succeed())
	// An unchanged copy written for another SMTP port: as after a change to config/samples.
	_, err = writeLocalSamples(repoRoot(), dir, "default", "127.0.0.1", 2626)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = writeLocalSamples(repoRoot(), dir, "default", "127.0.0.1", 2525)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(os.ReadFile(edited)).To(Equal([]byte("# mine\n")))
	g.Expect(os.ReadFile(stale)).To(Equal(fresh))
	g.Expect(os.Remove(edited)).To(Succeed())
	_, err = writeLocalSamples(repoRoot(), dir, "default", "127.0.0.1", 2525)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(readWorkflow(g, edited).Spec.Connections.SMTP.Host).To(Equal("127.0.0.1"), "deleted: written again")
}

// What make dev creates carries the annotation `kubectl apply` merges
// against: the manifest itself, as JSON.
func TestApplyConfigurationIsKubectls(t *testing.T) {
	g := NewWithT(t)
	u, err := applyConfiguration([]byte("apiVersion: crmflow.io/v1alpha1\nkind: Workflow\nmetadata:\n  name: w\n  namespace: default\nspec:\n  state: Active\n"))
	g.Expect(err).NotTo(HaveOccurred())
	ann := u.GetAnnotations()[lastApplied]
	g.Expect(ann).To(HaveSuffix("}\n"))
	var applied map[string]any
	g.Expect(json.Unmarshal([]byte(ann), &applied)).To(Succeed())
	g.Expect(applied).To(Equal(map[string]any{
		"apiVersion": "crmflow.io/v1alpha1", "kind": "Workflow",
		"metadata": map[string]any{"name": "w", "namespace": "default", "annotations": map[string]any{}},
		"spec":     map[string]any{"state": "Active"},
	}))
}

func TestPlaceholderHost(t *testing.T) {
	g := NewWithT(t)
	for _, h := range []string{"smtp.example.com", "example.org", "mail.test", "x.invalid", "SMTP.Example.COM."} {
		g.Expect(placeholderHost(h)).To(BeTrue(), h)
	}
	for _, h := range []string{"127.0.0.1", "smtp.gmail.com", "example.com.au", "notexample.com"} {
		g.Expect(placeholderHost(h)).To(BeFalse(), h)
	}
}

func TestShellQuote(t *testing.T) {
	g := NewWithT(t)
	g.Expect(shellQuote("/work/x/bin/dev/kubeconfig")).To(Equal("/work/x/bin/dev/kubeconfig"))
	g.Expect(shellQuote("/a b/it's")).To(Equal(`'/a b/it'\''s'`))
}
