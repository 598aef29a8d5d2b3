//go:build !unit

package webhook

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/test/fixture"
	"github.com/crmflow/crmflow/test/testenv"
)

// kubectlApply applies obj (as YAML) with the kubectl built for the tests,
// returning its combined output and whether it succeeded.
func kubectlApply(obj any) (string, bool) {
	raw, err := yaml.Marshal(obj)
	Expect(err).NotTo(HaveOccurred())
	kubectl := filepath.Join(testenv.AssetsDir(filepath.Join("..", "..")), "kubectl")
	cmd := exec.Command(kubectl, "--kubeconfig", kubeconfig, "apply", "-n", namespace, "-f", "-")
	cmd.Stdin = bytes.NewReader(raw)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	return out.String(), err == nil
}

// typed sets the apiVersion and kind kubectl needs.
func typed(wf *v1alpha1.Workflow) *v1alpha1.Workflow {
	wf.APIVersion, wf.Kind = v1alpha1.GroupVersion.String(), "Workflow"
	wf.Namespace = namespace
	return wf
}

var _ = Describe("Workflow admission", func() {
	It("admits every sample, defaulted, without warnings", func() {
		for _, name := range []string{"vip-routing", "lead-follow-up", "negative-sentiment", "weekly-digest", "renewal-reminder"} {
			wf := typed(fixture.MustSample(GinkgoT(), name))
			wf.Spec.Retry = nil
			Expect(k8sClient.Create(ctx, wf)).To(Succeed(), name)
			Expect(wf.Spec.Retry).NotTo(BeNil(), "the defaulter sets the retry policy")
			Expect(*wf.Spec.Retry.Attempts).To(Equal(int32(5)))
			Expect(warnings.take()).To(ConsistOf(
				// The samples reference Secrets this namespace does not hold.
				And(ContainSubstring("does not exist in namespace"),
					ContainSubstring("retries once a minute and fails its run when its attempts run out")),
			), name)
		}
	})

	It("refuses an invalid CEL expression with its field path and position (kubectl apply)", func() {
		wf := typed(fixture.Workflow("wf", fixture.AddSteps(v1alpha1.Step{Name: "later", If: `lead.score >`, Notify: &v1alpha1.NotifyAction{Message: "x"}})))
		wf.Name = "bad-cel"
		out, ok := kubectlApply(wf)
		Expect(ok).To(BeFalse(), out)
		Expect(out).To(ContainSubstring(`The Workflow "bad-cel" is invalid`))
		Expect(out).To(MatchRegexp(`spec\.steps\[1\]\.if: Invalid value: .*1:\d+`))
		err := k8sClient.Get(ctx, client.ObjectKeyFromObject(wf), &v1alpha1.Workflow{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "nothing is stored")
	})

	It("refuses a template that does not compile", func() {
		wf := typed(fixture.Workflow("wf", fixture.AddSteps(v1alpha1.Step{Name: "later", Notify: &v1alpha1.NotifyAction{Message: "Hi {{ contact.firstName + }}"}})))
		wf.Name = "bad-template"
		err := k8sClient.Create(ctx, wf)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring("spec.steps[1].notify.message"))
	})

	It("refuses a Secret reference into another namespace (kubectl apply)", func() {
		wf := typed(fixture.Workflow("wf", withSMTP("billing/smtp-credentials"), fixture.AddSteps(v1alpha1.Step{Name: "mail",
			SendEmail: &v1alpha1.SendEmailAction{To: "{{ contact.email }}", Subject: "s", Body: "b"}})))
		wf.Name = "cross-namespace"
		out, ok := kubectlApply(wf)
		Expect(ok).To(BeFalse(), out)
		Expect(out).To(ContainSubstring(`spec.connections.smtp.credentialsSecretRef.name: Invalid value: "billing/smtp-credentials"`))
		Expect(out).To(ContainSubstring("own namespace"))
	})

	It("refuses a bad cron expression and time zone", func() {
		wf := typed(fixture.Workflow("wf", fixture.SetSchedule("0 25 * * *", "Europe/Nowhere")))
		wf.Name = "bad-schedule"
		err := k8sClient.Create(ctx, wf)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring("spec.trigger.schedule.timeZone"))
		Expect(err.Error()).To(ContainSubstring("spec.trigger.schedule.cron"))
	})

	It("admits a loop-prone workflow with a warning (kubectl apply)", func() {
		wf := typed(fixture.Workflow("wf", fixture.SetEventTrigger("contact.tag.added"), fixture.AddSteps(v1alpha1.Step{Name: "tag-again",
			AddTags: &v1alpha1.TagsAction{Tags: []v1alpha1.Template{"Seen"}}})))
		wf.Name = "loop-prone"
		warnings.take()
		out, ok := kubectlApply(wf)
		Expect(ok).To(BeTrue(), out)
		Expect(out).To(ContainSubstring("Warning: likely loop: spec.steps[1].addTags (tag-again) makes the CRM emit contact.tag.added"))
		Expect(out).To(ContainSubstring("workflow.crmflow.io/loop-prone created"))
	})

	It("warns about steps after an end that no branch targets", func() {
		wf := typed(fixture.Workflow("wf", fixture.AddSteps(
			v1alpha1.Step{Name: "stop", End: &v1alpha1.EndAction{Reason: "Done"}},
			v1alpha1.Step{Name: "orphan", Notify: &v1alpha1.NotifyAction{Message: "never"}},
		)))
		wf.Name = "dead-step"
		hooks := &corev1.Secret{Data: map[string][]byte{"sales": []byte("http://hooks.example.com/")}}
		hooks.Name, hooks.Namespace = "hooks", namespace
		Expect(client.IgnoreAlreadyExists(k8sClient.Create(ctx, hooks))).To(Succeed())
		warnings.take()
		Expect(k8sClient.Create(ctx, wf)).To(Succeed())
		Expect(warnings.take()).To(ConsistOf(ContainSubstring(`spec.steps[2] (orphan) never runs: it follows the end step "stop"`)))
	})

	It("lets a stored workflow be relabelled even when a stricter check would refuse it now", func() {
		wf := typed(fixture.Workflow("wf"))
		wf.Name = "relabel"
		Expect(k8sClient.Create(ctx, wf)).To(Succeed())
		wf.Labels = map[string]string{"team": "sales"}
		Expect(k8sClient.Update(ctx, wf)).To(Succeed())
		wf.Spec.Steps[0].If = "lead.score >"
		err := k8sClient.Update(ctx, wf)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "a changed spec is checked on update: %v", err)
	})
})

var _ = Describe("WorkflowRun admission", func() {
	run := func(name string, spec v1alpha1.WorkflowSpec, data string) *v1alpha1.WorkflowRun {
		r := &v1alpha1.WorkflowRun{Spec: v1alpha1.WorkflowRunSpec{
			WorkflowName: "wf", Workflow: spec.DeepCopy(), Subject: "c-1", DryRun: true,
			Event: &v1alpha1.CloudEvent{ID: "1", Source: "test", Type: "lead.created", Data: &runtime.RawExtension{Raw: []byte(data)}},
		}}
		r.Name, r.Namespace = name, namespace
		return r
	}

	It("admits a run whose snapshot compiles", func() {
		Expect(k8sClient.Create(ctx, run("good-run", fixture.Workflow("wf").Spec, `{"lead":{"id":"l-1"}}`))).To(Succeed())
	})

	It("refuses a run whose snapshot does not compile, under spec.workflow", func() {
		spec := fixture.Workflow("wf", fixture.AddSteps(v1alpha1.Step{Name: "x", If: "(", Notify: &v1alpha1.NotifyAction{Message: "m"}})).Spec
		err := k8sClient.Create(ctx, run("bad-run", spec, `{}`))
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring("spec.workflow.steps[1].if"))
	})

	It("refuses an inline spec on a run that would act for real", func() {
		real := run("inline-real", fixture.Workflow("wf").Spec, `{"lead":{"id":"l-1"}}`)
		real.Spec.DryRun = false
		err := k8sClient.Create(ctx, real)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring("spec.dryRun"))
		Expect(err.Error()).To(ContainSubstring("spec.workflow"))
	})

	It("lets nobody but the manager change a run's spec beyond spec.cancel", func() {
		r := run("edited", fixture.Workflow("wf").Spec, `{"contact":{"id":"c-1"}}`)
		Expect(k8sClient.Create(ctx, r)).To(Succeed())
		patch := func(c client.Client, body string) error {
			return c.Patch(ctx, &v1alpha1.WorkflowRun{ObjectMeta: metav1.ObjectMeta{Name: r.Name, Namespace: namespace}},
				client.RawPatch(types.MergePatchType, []byte(body)))
		}
		// Someone else with every permission: a different user name.
		opCfg := rest.CopyConfig(adminCfg)
		opCfg.Impersonate = rest.ImpersonationConfig{UserName: "platform-operator", Groups: []string{"system:masters"}}
		operator, err := client.New(opCfg, client.Options{Scheme: k8sClient.Scheme()})
		Expect(err).NotTo(HaveOccurred())

		err = patch(operator, `{"spec":{"event":{"data":{"contact":{"id":"someone-else"}}}}}`)
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring("spec.event cannot be changed"))
		err = patch(operator, `{"spec":{"inbox":[{"id":"fake","source":"x","type":"message.received"}]}}`)
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring("spec.inbox"))
		Expect(patch(operator, `{"metadata":{"labels":{"team":"sales"}},"spec":{"cancel":true}}`)).To(Succeed())

		// The manager (the admin's identity in this suite) delivers events.
		Expect(patch(k8sClient, `{"spec":{"inbox":[{"id":"reply","source":"x","type":"message.received"}]}}`)).To(Succeed())
	})

	It("refuses event data that is not an object", func() {
		err := k8sClient.Create(ctx, run("list-data", fixture.Workflow("wf").Spec, `[1,2]`))
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring("spec.event.data"))
	})
})

var _ = Describe("the generated webhook manifest", func() {
	It("is what the markers say (run `make manifests` after changing them)", func() {
		raw, err := os.ReadFile(filepath.Join("..", "..", "config", "webhook", "manifests.yaml"))
		Expect(err).NotTo(HaveOccurred())
		for _, path := range []string{"/mutate-crmflow-io-v1alpha1-workflow", "/validate-crmflow-io-v1alpha1-workflow", "/validate-crmflow-io-v1alpha1-workflowrun"} {
			Expect(strings.Count(string(raw), "path: "+path+"\n")).To(Equal(1), path)
		}
	})
})
