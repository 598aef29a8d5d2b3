//go:build !unit

package intake_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	ce "github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/controllers/intake"
)

// createNamespace makes a fresh namespace for one spec.
func createNamespace(prefix string) string {
	name := newNamespaceName(prefix)
	Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})).To(Succeed())
	return name
}

// installWorkflow creates wf in ns and waits until the receiver's
// catalogue has it (a probe event of a type nobody else uses would be
// indistinguishable, so it waits for the cache instead).
func installWorkflow(ns string, wf *v1alpha1.Workflow, mutate ...func(*v1alpha1.Workflow)) *v1alpha1.Workflow {
	wf = wf.DeepCopy()
	wf.Namespace = ns
	for _, m := range mutate {
		m(wf)
	}
	Expect(k8sClient.Create(ctx, wf)).To(Succeed())
	return wf
}

// event builds a CloudEvent with JSON data.
func event(id, typ, subject string, data any) ce.Event {
	e := ce.New()
	e.SetID(id)
	e.SetSource("crm.example.com")
	e.SetType(typ)
	if subject != "" {
		e.SetSubject(subject)
	}
	if data != nil {
		Expect(e.SetData(ce.ApplicationJSON, data)).To(Succeed())
	}
	return e
}

// reply is the receiver's answer.
type reply struct {
	Status     int
	RetryAfter string
	Error      string
	Answer     intake.Answer
	Raw        string
}

// First is the answer for the request's first event, or a zero result when the
// request was refused (e.g. 404 while the receiver's cache has not seen a new
// namespace yet), so polling functions fail their match instead of panicking.
func (r reply) First() intake.EventResult {
	if len(r.Answer.Events) == 0 {
		return intake.EventResult{}
	}
	return r.Answer.Events[0]
}

func eventsURL(ns string) string { return fmt.Sprintf("%s/v1/namespaces/%s/events", baseURL, ns) }

// post sends e in binary mode with optional extra headers.
func post(ns string, e ce.Event, headers ...string) reply {
	req, err := cehttp.NewHTTPRequestFromEvent(ctx, eventsURL(ns), e)
	Expect(err).NotTo(HaveOccurred())
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return do(req)
}

// postStructured sends e in structured mode.
func postStructured(ns string, e ce.Event) reply {
	body, err := json.Marshal(e)
	Expect(err).NotTo(HaveOccurred())
	return postRaw(ns, http.MethodPost, "application/cloudevents+json", body)
}

// postBatch sends events in batched mode.
func postBatch(ns string, es ...ce.Event) reply {
	req, err := cehttp.NewHTTPRequestFromEvents(ctx, eventsURL(ns), es)
	Expect(err).NotTo(HaveOccurred())
	return do(req)
}

// postRaw sends an arbitrary request body.
func postRaw(ns, method, contentType string, body []byte, headers ...string) reply {
	req, err := http.NewRequestWithContext(ctx, method, eventsURL(ns), bytes.NewReader(body))
	Expect(err).NotTo(HaveOccurred())
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return do(req)
}

func do(req *http.Request) reply {
	resp, err := httpc.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	r := reply{Status: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After"), Raw: string(raw)}
	if resp.StatusCode == http.StatusAccepted {
		Expect(json.Unmarshal(raw, &r.Answer)).To(Succeed(), string(raw))
	} else {
		var p struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(raw, &p)
		r.Error = p.Error
	}
	return r
}

// runsOf lists the runs of a workflow in ns (live, not cached).
func runsOf(ns, workflow string) []v1alpha1.WorkflowRun {
	var list v1alpha1.WorkflowRunList
	Expect(k8sClient.List(ctx, &list, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelWorkflow: workflow})).To(Succeed())
	return list.Items
}

// scheduledRuns lists the runs of workflow in ns that are neither finished nor cancelled.
func scheduledRuns(ns, workflow string) []v1alpha1.WorkflowRun {
	var out []v1alpha1.WorkflowRun
	runs := runsOf(ns, workflow)
	for i := range runs {
		if r := &runs[i]; !r.Spec.Cancel && !r.Status.Phase.IsFinished() {
			out = append(out, *r)
		}
	}
	return out
}

// allRuns lists every run in ns.
func allRuns(ns string) []v1alpha1.WorkflowRun {
	var list v1alpha1.WorkflowRunList
	Expect(k8sClient.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
	return list.Items
}

// skipCount reads a workflow's skippedEvents entry for reason.
func skipCount(ns, workflow string, reason v1alpha1.SkipReason) func() v1alpha1.SkipCount {
	return func() v1alpha1.SkipCount {
		wf := &v1alpha1.Workflow{}
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: workflow}, wf)).To(Succeed())
		for _, s := range wf.Status.SkippedEvents {
			if s.Reason == reason {
				return s
			}
		}
		return v1alpha1.SkipCount{}
	}
}

// postUntilAccepted re-sends until the receiver's caches have caught up with
// a workflow created a moment ago and the event enrolled or was skipped by it.
func postUntilMatched(ns string, e ce.Event, workflow string) reply {
	var r reply
	Eventually(func(g Gomega) {
		r = post(ns, e)
		g.Expect(r.Status).To(Equal(http.StatusAccepted), r.Raw)
		g.Expect(r.Answer.Events).To(HaveLen(1))
		g.Expect(mentions(r.First(), workflow)).To(BeTrue(), r.Raw)
	}).Should(Succeed())
	return r
}

// mentions reports whether a result names workflow in any list.
func mentions(res intake.EventResult, workflow string) bool {
	for _, l := range [][]intake.RunRef{res.Enrolled, res.Rescheduled, res.Dropped} {
		for _, x := range l {
			if x.Workflow == workflow {
				return true
			}
		}
	}
	for _, s := range res.Skipped {
		if s.Workflow == workflow {
			return true
		}
	}
	return false
}
