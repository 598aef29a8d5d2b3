//go:build !unit

package e2e

import (
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/controllers/revision"
	"github.com/crmflow/crmflow/test/fixture"
)

// newNamespace creates a namespace for one spec, with the notification
// Secret the samples reference pointing at the HTTP target.
func newNamespace() string {
	GinkgoHelper()
	ns := "e2e-" + rand.String(6)
	Expect(k8sClient.Create(suiteCtx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
	Expect(k8sClient.Create(suiteCtx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "crmflow-notify", Namespace: ns},
		StringData: map[string]string{
			"vip-support-url": target.URL + "/notify/" + ns + "/vip",
			"support-url":     target.URL + "/notify/" + ns + "/support",
			"sales-url":       target.URL + "/notify/" + ns + "/sales",
		},
	})).To(Succeed())
	return ns
}

// sample reads config/samples/crmflow_v1alpha1_<file>.yaml into namespace:
// the seed examples are tested exactly as shipped, apart from the options.
func sample(file, namespace string, opts ...fixture.WorkflowOption) *v1alpha1.Workflow {
	GinkgoHelper()
	return fixture.MustSample(GinkgoT(), file, append([]fixture.WorkflowOption{fixture.SetNamespace(namespace)}, opts...)...)
}

// withLocalSMTP points the workflow's mail at the suite's SMTP server.
func withLocalSMTP() fixture.WorkflowOption {
	return fixture.SetSMTP(v1alpha1.SMTPConnection{
		Host: mailer.host, Port: mailer.port, TLS: v1alpha1.SMTPNone, From: "Sales <sales@example.com>",
	})
}

// createWorkflow creates wf and returns it as stored (defaults applied).
func createWorkflow(wf *v1alpha1.Workflow) *v1alpha1.Workflow {
	GinkgoHelper()
	Expect(k8sClient.Create(suiteCtx, wf)).To(Succeed())
	stored := &v1alpha1.Workflow{}
	Expect(k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(wf), stored)).To(Succeed())
	return stored
}

// cloudEvent builds a triggering or delivered event with JSON data.
func cloudEvent(typ, id, subject string, at time.Time, data map[string]any) v1alpha1.CloudEvent {
	return *fixture.Event(typ, data, fixture.SetEventID(id), fixture.SetEventSource("crm.example.com/test"),
		fixture.SetEventSubject(subject), fixture.SetEventTime(at))
}

// enroll creates the run of wf for ev the way intake does: a name derived
// from the workflow and the event, a controller owner reference to the
// Workflow, the crmflow labels, a snapshot of the stored spec and its
// generation, the subject and the event.
func enroll(wf *v1alpha1.Workflow, ev v1alpha1.CloudEvent, subject string) *v1alpha1.WorkflowRun {
	GinkgoHelper()
	run := enrollObject(wf, ev, subject)
	Expect(k8sClient.Create(suiteCtx, run)).To(Succeed())
	return run
}

// enrollObject builds, without creating it, the run enroll creates.
func enrollObject(wf *v1alpha1.Workflow, ev v1alpha1.CloudEvent, subject string) *v1alpha1.WorkflowRun {
	GinkgoHelper()
	rev, err := revision.Build(wf, scheme)
	Expect(err).NotTo(HaveOccurred())
	if err := k8sClient.Create(suiteCtx, rev); !apierrors.IsAlreadyExists(err) {
		Expect(err).NotTo(HaveOccurred())
	}
	run := &v1alpha1.WorkflowRun{
		ObjectMeta: metav1.ObjectMeta{
			Name:      strings.ToLower(fmt.Sprintf("%s-%s", wf.Name, ev.ID)),
			Namespace: wf.Namespace,
			Labels: map[string]string{
				v1alpha1.LabelWorkflow:    v1alpha1.WorkflowLabelValue(wf.Name),
				v1alpha1.LabelSubjectHash: v1alpha1.SubjectHash(subject),
				v1alpha1.LabelTrigger:     "event",
			},
		},
		Spec: v1alpha1.WorkflowRunSpec{
			WorkflowName:       wf.Name,
			WorkflowGeneration: wf.Generation,
			WorkflowRevision:   rev.Name,
			Subject:            subject,
			Event:              &ev,
		},
	}
	Expect(controllerutil.SetControllerReference(wf, run, scheme)).To(Succeed())
	return run
}

// getRun reads a run from the API server.
func getRun(run *v1alpha1.WorkflowRun) func(Gomega) *v1alpha1.WorkflowRun {
	return func(g Gomega) *v1alpha1.WorkflowRun {
		got := &v1alpha1.WorkflowRun{}
		g.Expect(k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(run), got)).To(Succeed())
		return got
	}
}

// phaseOf reads a run's phase.
func phaseOf(run *v1alpha1.WorkflowRun) func() (v1alpha1.RunPhase, error) {
	return func() (v1alpha1.RunPhase, error) {
		got := &v1alpha1.WorkflowRun{}
		err := k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(run), got)
		return got.Status.Phase, err
	}
}

// stepOf returns a step's status from a run's log (zero value when absent).
func stepOf(run *v1alpha1.WorkflowRun, name string) v1alpha1.StepStatus {
	for i := range run.Status.Steps {
		s := &run.Status.Steps[i]
		if s.Name == name {
			return *s
		}
	}
	return v1alpha1.StepStatus{}
}

// stepPhases maps each logged step to its phase.
func stepPhases(run *v1alpha1.WorkflowRun) map[string]v1alpha1.StepPhase {
	out := map[string]v1alpha1.StepPhase{}
	for i := range run.Status.Steps {
		s := &run.Status.Steps[i]
		out[s.Name] = s.Phase
	}
	return out
}

// deliver appends ev to a run's spec.inbox the way intake does: an update
// with the resourceVersion read, retried on conflict.
func deliver(run *v1alpha1.WorkflowRun, ev v1alpha1.CloudEvent) {
	GinkgoHelper()
	Eventually(func() error {
		got := &v1alpha1.WorkflowRun{}
		if err := k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(run), got); err != nil {
			return err
		}
		got.Spec.Inbox = append(got.Spec.Inbox, ev)
		return k8sClient.Update(suiteCtx, got)
	}).Should(Succeed())
}

// idempotencyKeys returns the distinct Idempotency-Key headers of hits.
func idempotencyKeys(hits []hit) []string {
	seen := map[string]bool{}
	var keys []string
	for _, h := range hits {
		if !seen[h.IdempotencyKey] {
			seen[h.IdempotencyKey] = true
			keys = append(keys, h.IdempotencyKey)
		}
	}
	return keys
}

// commands returns the CRM commands of one type sent for a subject.
func commands(typ, subject string) []hit {
	var out []hit
	for _, h := range target.on("/crm") {
		if h.CEType == typ && h.CESubject == subject {
			out = append(out, h)
		}
	}
	return out
}
