package runner

import (
	"context"
	"fmt"
	"sync"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/runner/actions"
	"github.com/crmflow/crmflow/test/fixture"
)

// recorder is a fake Executor for pure flow units: it records every request
// and answers from fail (nil: success with a message naming the kind).
type recorder struct {
	mu   sync.Mutex
	reqs []actions.Request
	// fail decides the outcome of the n-th attempt (1-based) of req's step.
	fail    func(req actions.Request, n int) error
	perStep map[string]int
}

func (r *recorder) Execute(_ context.Context, req actions.Request) (actions.Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, req)
	if r.perStep == nil {
		r.perStep = map[string]int{}
	}
	r.perStep[req.Origin.Step]++
	if r.fail != nil {
		if err := r.fail(req, r.perStep[req.Origin.Step]); err != nil {
			return actions.Result{}, err
		}
	}
	return actions.Result{Message: "done " + string(req.Kind), Output: map[string]any{"ok": true}}, nil
}

func (r *recorder) steps() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.reqs))
	for i := range r.reqs {
		q := &r.reqs[i]
		out[i] = q.Origin.Step
	}
	return out
}

// secretMap is a SecretReader over fixed data; it counts reads.
type secretMap struct {
	data  map[string]map[string]string
	reads int
}

func (s *secretMap) Secret(_ context.Context, namespace, name string) (map[string][]byte, error) {
	s.reads++
	d, ok := s.data[name]
	if !ok || namespace != "sales" {
		// What the manager's reader returns: the API's NotFound, wrapped.
		return nil, fmt.Errorf("read Secret %s/%s: %w", namespace, name,
			apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, name))
	}
	out := map[string][]byte{}
	for k, v := range d {
		out[k] = []byte(v)
	}
	return out, nil
}

// runOpt changes a test run.
type runOpt func(*v1alpha1.WorkflowRun)

func dryRun(r *v1alpha1.WorkflowRun) { r.Spec.DryRun = true }

func withEvent(ev *v1alpha1.CloudEvent) runOpt {
	return func(r *v1alpha1.WorkflowRun) { r.Spec.Event = ev }
}

// newRun builds a run of spec for subject c-42 in namespace sales.
func newRun(spec *v1alpha1.WorkflowSpec, opts ...runOpt) *v1alpha1.WorkflowRun {
	r := &v1alpha1.WorkflowRun{
		ObjectMeta: metav1.ObjectMeta{Name: "run-1", Namespace: "sales", UID: "uid-1", CreationTimestamp: metav1.NewTime(t0)},
		Spec: v1alpha1.WorkflowRunSpec{WorkflowName: "wf", Workflow: spec.DeepCopy(), Subject: "c-42",
			Event: fixture.Event("lead.created", obj{"lead": obj{"id": "l-1", "source": "Website"},
				"contact": obj{"email": "ann@example.com", "firstName": "Ann"}}, fixture.SetEventTime(t0))},
	}
	for _, o := range opts {
		o(r)
	}
	return r
}

// harness drives one run through an engine with a fake clock.
type harness struct {
	t       testing.TB
	e       *Engine
	clk     *clocktesting.FakeClock
	rec     *recorder
	secrets *secretMap
	run     *v1alpha1.WorkflowRun
	paused  bool
	last    Outcome
}

func newHarness(t testing.TB, run *v1alpha1.WorkflowRun) *harness {
	clk := clocktesting.NewFakeClock(t0)
	rec := &recorder{}
	h := &harness{t: t, clk: clk, rec: rec, run: run,
		secrets: &secretMap{data: map[string]map[string]string{
			"hooks": {"notify": "http://127.0.0.1:1/hook", "zap": "http://127.0.0.1:1/zap", "url": "http://127.0.0.1:1/secret-url"},
			"smtp":  {"username": "mailer", "password": "pw"},
			"sms":   {"token": "tok", "username": "AC1", "password": "authtok"},
			"crm":   {"token": "crm-token"},
		}}}
	h.e = New(Options{Executor: rec, Clock: clk, Random: func() float64 { return 0.5 }})
	return h
}

// advance calls Advance at the fake clock's time and stores the new status.
func (h *harness) advance() Outcome {
	h.t.Helper()
	out, err := h.e.Advance(context.Background(), Input{Run: h.run, WorkflowPaused: h.paused, Secrets: h.secrets, Now: h.clk.Now()})
	if err != nil {
		h.t.Fatalf("advance: %v", err)
	}
	h.run.Status = out.Status
	h.last = out
	return out
}

// deliver appends events to spec.inbox as intake does.
func (h *harness) deliver(evs ...*v1alpha1.CloudEvent) {
	for _, ev := range evs {
		h.run.Spec.Inbox = append(h.run.Spec.Inbox, *ev)
	}
}

func (h *harness) step(name string) v1alpha1.StepStatus {
	h.t.Helper()
	if ss := stepStatus(&h.run.Status, name); ss != nil {
		return *ss
	}
	h.t.Fatalf("no status for step %q", name)
	return v1alpha1.StepStatus{}
}

func (h *harness) phases() map[string]v1alpha1.StepPhase {
	out := map[string]v1alpha1.StepPhase{}
	for i := range h.run.Status.Steps {
		s := &h.run.Status.Steps[i]
		out[s.Name] = s.Phase
	}
	return out
}

// bigOutput answers every request with a large body in its output.
type bigOutput struct{ body string }

func (b *bigOutput) Execute(context.Context, actions.Request) (actions.Result, error) {
	return actions.Result{Message: "ok", Output: map[string]any{"status": 200, "body": b.body}}, nil
}
