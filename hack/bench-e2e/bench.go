package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/runner/cloudevents"
)

// Namespace and workflow names the benchmark uses.
const (
	benchNS      = "bench"
	vipWorkflow  = "vip-routing"
	waitWorkflow = "bench-wait"
	// napWorkflow is bench-wait with a one-second wait: its warm-up run
	// finishes, and its status is the template of the status a wake writes.
	napWorkflow = "bench-nap"
	// historyWorkflows hold the preloaded finished runs: two, because a
	// workflow keeps at most 10,000 (history.limit's maximum).
	historyWorkflowPrefix = "vip-history-"
	historyWorkflows      = 2
	// benchLabel marks the objects of the baselines, so they are deleted
	// with one deletecollection.
	benchLabel = "bench.crmflow.io/baseline"
	// waitDuration is bench-wait's wait: long, so that a preloaded run's
	// step start (wakeAt − waitDuration) is in the past.
	waitDuration = 24 * time.Hour
)

// bench is everything the measurements share.
type bench struct {
	o       options
	cp      *controlPlane
	scheme  *runtime.Scheme
	c       client.WithWatch
	sink    *sink
	mail    *mailbox // lead mode
	mgr     *manager
	httpc   *http.Client
	seq     int // event id sequence across phases
	phase   int
	subject map[string]bool // subjects that enrolled

	finished *v1alpha1.WorkflowRun // a real finished VIP run (template)
	waiting  *v1alpha1.WorkflowRun // a real waiting bench-wait run (template)
	woke     *v1alpha1.WorkflowRun // a real bench-nap run, finished as a woken bench-wait run finishes (template)
}

func newBench(ctx context.Context, o options, cp *controlPlane, bin, dir string) (*bench, error) {
	scheme, err := newScheme()
	if err != nil {
		return nil, err
	}
	c, err := client.NewWithWatch(cp.cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("client for the local API server: %w", err)
	}
	b := &bench{o: o, cp: cp, scheme: scheme, c: c, subject: map[string]bool{},
		httpc: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}}}
	say("installing the CRDs")
	if err := installCRDs(ctx, c, o.root); err != nil {
		return b, err
	}
	if b.sink, err = startSink(); err != nil {
		return b, err
	}
	if err := b.applyWorkflows(ctx); err != nil {
		return b, err
	}
	var extra []string
	if o.managerArgs != "" {
		extra = strings.Fields(o.managerArgs)
	}
	if b.mgr, err = newManager(bin, dir, cp.kubeconfig, b.sink.url, extra); err != nil {
		return b, err
	}
	if err := b.startManager(ctx); err != nil {
		return b, err
	}
	for _, wf := range b.workflowNames() {
		if _, err := b.currentRevision(ctx, wf); err != nil {
			return b, err
		}
	}
	err = b.warmUp(ctx)
	return b, err
}

func (b *bench) close() {
	if b.mgr != nil {
		b.mgr.stop()
	}
	if b.sink != nil {
		b.sink.close()
	}
	if b.mail != nil {
		_ = b.mail.srv.Close()
	}
}

// workflowNames are the workflows this mode applies.
func (b *bench) workflowNames() []string {
	names := []string{vipWorkflow}
	if b.o.mode == "lead" {
		return append(names, leadWorkflow)
	}
	if b.o.mode != "e2e" {
		names = append(names, waitWorkflow, napWorkflow)
		if b.o.mode != "wake" {
			for i := 1; i <= historyWorkflows; i++ {
				names = append(names, fmt.Sprintf("%s%d", historyWorkflowPrefix, i))
			}
		}
	}
	return names
}

// applyWorkflows creates the namespace, the Secret the VIP sample reads (its
// hook URL at the sink), the VIP routing sample (state Active), and the
// workflows the preload and wake modes need.
func (b *bench) applyWorkflows(ctx context.Context) error {
	if err := b.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: benchNS}}); err != nil {
		return fmt.Errorf("create namespace: %w", err)
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "crmflow-notify", Namespace: benchNS},
		StringData: map[string]string{"vip-support-url": b.sink.url + "/notify/vip-support"},
	}
	if err := b.c.Create(ctx, secret); err != nil {
		return fmt.Errorf("create secret crmflow-notify: %w", err)
	}
	files, err := filepath.Glob(filepath.Join(b.o.root, "config", "samples", "*vip-routing*.yaml"))
	if err != nil || len(files) != 1 {
		return fmt.Errorf("want one config/samples/*vip-routing*.yaml, found %d", len(files))
	}
	raw, err := os.ReadFile(files[0])
	if err != nil {
		return err
	}
	var vip v1alpha1.Workflow
	if err := yaml.UnmarshalStrict(raw, &vip); err != nil {
		return fmt.Errorf("read %s: %w", files[0], err)
	}
	vip.Namespace = benchNS
	vip.Spec.State = v1alpha1.WorkflowActive
	wfs := []*v1alpha1.Workflow{&vip}
	if b.o.mode == "lead" {
		if b.mail, err = startMailbox(); err != nil {
			return err
		}
		lead, err := b.leadWorkflowSpec()
		if err != nil {
			return err
		}
		wfs = append(wfs, lead)
	} else if b.o.mode != "e2e" {
		wfs = append(wfs, waitingWorkflow(waitWorkflow, "bench.wait", waitDuration), waitingWorkflow(napWorkflow, "bench.nap", time.Second))
		if b.o.mode != "wake" {
			limit := int32(10000)
			for i := 1; i <= historyWorkflows; i++ {
				h := vip.DeepCopy()
				h.Name = fmt.Sprintf("%s%d", historyWorkflowPrefix, i)
				h.Spec.Trigger = v1alpha1.Trigger{Event: &v1alpha1.EventTrigger{Types: []v1alpha1.EventType{"bench.history"}}}
				h.Spec.History.Limit = &limit
				wfs = append(wfs, h)
			}
		}
	}
	for _, wf := range wfs {
		if err := b.c.Create(ctx, wf); err != nil {
			return fmt.Errorf("create workflow %s: %w", wf.Name, err)
		}
	}
	return nil
}

// currentRevision waits until the manager wrote the workflow's current
// revision and returns the workflow.
func (b *bench) currentRevision(ctx context.Context, name string) (*v1alpha1.Workflow, error) {
	deadline := time.Now().Add(60 * time.Second)
	for {
		var wf v1alpha1.Workflow
		if err := b.c.Get(ctx, client.ObjectKey{Namespace: benchNS, Name: name}, &wf); err != nil {
			return nil, err
		}
		if wf.Status.CurrentRevision != "" {
			return &wf, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("workflow %s has no status.currentRevision after 60s (manager log:\n%s)", name, b.mgr.proc.tail(20))
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

// startManager starts the manager and waits until its writes settle.
func (b *bench) startManager(ctx context.Context) error {
	t := time.Now()
	if err := b.mgr.start(ctx); err != nil {
		return err
	}
	say("manager ready in %s (pid %d)", time.Since(t).Round(time.Millisecond), b.mgr.pid())
	return nil
}

// receiverURL is where events are posted.
func (b *bench) receiverURL() string {
	return "http://" + b.mgr.receiverAddr + "/v1/namespaces/" + benchNS + "/events"
}

// warmUp posts VIP events until one enrolls and its side effects arrive,
// keeps that run as the finished-run template, and, in the modes that need
// it, enrolls one bench-wait run and keeps it, waiting, as a template.
func (b *bench) warmUp(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	var runName string
	for i := 0; runName == ""; i++ {
		res, err := b.send(ctx, vipEvent(fmt.Sprintf("warm-%d", i), "c-warm"))
		if err == nil && len(res.enrolled) == 1 {
			runName = res.enrolled[0]
			break
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("no warm-up event enrolled in 60s (last: %w)", err)
			}
			return fmt.Errorf("no warm-up event enrolled in 60s (last: %+v)", res)
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	run, err := b.waitRun(ctx, runName, func(r *v1alpha1.WorkflowRun) bool { return r.Status.Phase.IsFinished() })
	if err != nil {
		return err
	}
	if run.Status.Phase != v1alpha1.RunSucceeded {
		return fmt.Errorf("warm-up run %s finished %s: %s", run.Name, run.Status.Phase, run.Status.Message)
	}
	b.finished = run
	if b.o.mode == "e2e" || b.o.mode == "lead" {
		return nil
	}
	ev := benchEvent{id: "warm-wait", typ: "bench.wait", subject: "c-warm", data: `{"contact":{"id":"c-warm"}}`}
	res, err := b.send(ctx, ev)
	if err != nil {
		return fmt.Errorf("bench-wait warm-up event did not enroll: %w", err)
	}
	if len(res.enrolled) != 1 {
		return fmt.Errorf("bench-wait warm-up event did not enroll: %+v", res)
	}
	b.waiting, err = b.waitRun(ctx, res.enrolled[0], func(r *v1alpha1.WorkflowRun) bool {
		return r.Status.Phase == v1alpha1.RunWaiting && r.Status.WakeAt != nil
	})
	if err != nil {
		return err
	}
	ev = benchEvent{id: "warm-nap", typ: "bench.nap", subject: "c-warm", data: `{"contact":{"id":"c-warm"}}`}
	if res, err = b.send(ctx, ev); err != nil {
		return fmt.Errorf("bench-nap warm-up event did not enroll: %w", err)
	}
	if len(res.enrolled) != 1 {
		return fmt.Errorf("bench-nap warm-up event did not enroll: %+v", res)
	}
	b.woke, err = b.waitRun(ctx, res.enrolled[0], func(r *v1alpha1.WorkflowRun) bool { return r.Status.Phase.IsFinished() })
	if err == nil && b.woke.Status.Phase != v1alpha1.RunSucceeded {
		err = fmt.Errorf("bench-nap warm-up run %s finished %s: %s", b.woke.Name, b.woke.Status.Phase, b.woke.Status.Message)
	}
	return err
}

// waitingWorkflow is a workflow whose runs wait d, then tag the contact
// (one CRM command): the runs of the preload and wake modes.
func waitingWorkflow(name, eventType string, d time.Duration) *v1alpha1.Workflow {
	wait := v1alpha1.Duration(d.String())
	return &v1alpha1.Workflow{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: benchNS},
		Spec: v1alpha1.WorkflowSpec{
			State:      v1alpha1.WorkflowActive,
			Trigger:    v1alpha1.Trigger{Event: &v1alpha1.EventTrigger{Types: []v1alpha1.EventType{v1alpha1.EventType(eventType)}}},
			Enrollment: v1alpha1.EnrollmentPolicy{Reenroll: v1alpha1.ReenrollAlways, Concurrency: v1alpha1.ConcurrencyAllow},
			Steps: []v1alpha1.Step{
				{Name: "nap", Wait: &v1alpha1.WaitAction{Duration: &wait}},
				{Name: "tag-woke", AddTags: &v1alpha1.TagsAction{Tags: []v1alpha1.Template{"Woke"}}},
			},
		},
	}
}

// waitRun polls run name until done(run) holds (60 s at most).
func (b *bench) waitRun(ctx context.Context, name string, done func(*v1alpha1.WorkflowRun) bool) (*v1alpha1.WorkflowRun, error) {
	deadline := time.Now().Add(60 * time.Second)
	for {
		var run v1alpha1.WorkflowRun
		err := b.c.Get(ctx, client.ObjectKey{Namespace: benchNS, Name: name}, &run)
		if err == nil && done(&run) {
			return &run, nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return nil, fmt.Errorf("run %s not read after 60s (manager log:\n%s): %w", name, b.mgr.proc.tail(20), err)
			}
			return nil, fmt.Errorf("run %s not as expected after 60s (phase %q; manager log:\n%s)", name, run.Status.Phase, b.mgr.proc.tail(20))
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

// benchEvent is one binary-mode CloudEvent.
type benchEvent struct {
	id, typ, subject, data string
}

// vipEvent is a conversation.started event of a contact tagged VIP; the
// contact's last name is the event id, so the notification names its event.
func vipEvent(id, contact string) benchEvent {
	return benchEvent{id: id, typ: "conversation.started", subject: contact, data: fmt.Sprintf(
		`{"conversation":{"id":"conv-%s","contactId":%q,"channel":"chat"},"contact":{"id":%q,"firstName":"Bench","lastName":%q,"email":"%s@example.com","tags":["VIP"]}}`,
		id, contact, contact, id, contact)}
}

// sendResult is what the receiver answered.
type sendResult struct {
	status   int
	enrolled []string
	skipped  string
	latency  time.Duration
}

// send posts ev once and returns the receiver's answer.
func (b *bench) send(ctx context.Context, ev benchEvent) (sendResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.receiverURL(), strings.NewReader(ev.data))
	if err != nil {
		return sendResult{}, err
	}
	cloudevents.SetBinary(req.Header, &v1alpha1.CloudEvent{ID: ev.id, Source: "bench/e2e", Type: ev.typ, Subject: ev.subject,
		Data: &runtime.RawExtension{Raw: []byte(ev.data)}})
	t := time.Now()
	resp, err := b.httpc.Do(req)
	if err != nil {
		return sendResult{}, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	res := sendResult{status: resp.StatusCode, latency: time.Since(t)}
	if err != nil {
		return res, err
	}
	if resp.StatusCode != http.StatusAccepted {
		return res, fmt.Errorf("receiver answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	var a struct {
		Events []struct {
			Enrolled []struct {
				Run string `json:"run"`
			} `json:"enrolled"`
			Skipped []struct {
				Workflow, Reason, Message string
			} `json:"skipped"`
		} `json:"events"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return res, fmt.Errorf("read receiver answer %q: %w", body, err)
	}
	for _, e := range a.Events {
		for _, r := range e.Enrolled {
			res.enrolled = append(res.enrolled, r.Run)
		}
		for _, s := range e.Skipped {
			res.skipped = s.Workflow + ": " + s.Reason + " " + s.Message
		}
	}
	return res, nil
}

// sleep waits d or until ctx ends (a benchmark's poll interval).
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// waitWritesQuiet waits until the API server's write counter has not moved
// for quiet (at most limit) and returns the time it took.
func (b *bench) waitWritesQuiet(ctx context.Context, quiet, limit time.Duration) (time.Duration, error) {
	start := time.Now()
	last, err := b.cp.apiWrites(ctx)
	if err != nil {
		return 0, err
	}
	stable := time.Now()
	for time.Since(start) < limit {
		// The API server's /metrics is ~3 MB of text: poll it gently.
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return 0, err
		}
		now, err := b.cp.apiWrites(ctx)
		if err != nil {
			return 0, err
		}
		if now.total() != last.total() {
			last, stable = now, time.Now()
			continue
		}
		if time.Since(stable) >= quiet {
			return time.Since(start), nil
		}
	}
	return time.Since(start), nil
}
