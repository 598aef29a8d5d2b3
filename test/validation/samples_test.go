//go:build !unit

package validation

import (
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/yaml"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

var _ = Describe("config/samples", func() {
	files, err := filepath.Glob(filepath.Join("..", "..", "config", "samples", "crmflow_v1alpha1_*.yaml"))
	if err != nil || len(files) < 5 {
		panic("expected at least five sample workflows in config/samples")
	}
	for _, file := range files {
		It("applies "+filepath.Base(file)+" cleanly", func() {
			raw, err := os.ReadFile(file)
			Expect(err).NotTo(HaveOccurred())
			var wf v1alpha1.Workflow
			Expect(yaml.UnmarshalStrict(raw, &wf)).To(Succeed(), "sample must use only known fields")
			wf.Namespace = namespace
			Expect(k8sClient.Create(ctx, &wf)).To(Succeed())
			Expect(wf.Spec.State).To(Equal(v1alpha1.WorkflowActive))
		})
	}

	It("covers the three seeds and every trigger kind", func() {
		var names []string
		kinds := map[string]bool{}
		for _, file := range files {
			raw, err := os.ReadFile(file)
			Expect(err).NotTo(HaveOccurred())
			var wf v1alpha1.Workflow
			Expect(yaml.Unmarshal(raw, &wf)).To(Succeed())
			names = append(names, wf.Name)
			t := wf.Spec.Trigger
			kinds["event"] = kinds["event"] || t.Event != nil
			kinds["schedule"] = kinds["schedule"] || t.Schedule != nil
			kinds["dateField"] = kinds["dateField"] || t.DateField != nil
		}
		Expect(strings.Join(names, ",")).To(And(ContainSubstring("vip-routing"), ContainSubstring("lead-follow-up"), ContainSubstring("negative-sentiment")))
		Expect(kinds).To(Equal(map[string]bool{"event": true, "schedule": true, "dateField": true}))
	})
})
