package main

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// preload stops the manager, creates b.o.preloadFinished finished runs
// (the status a real VIP run finished with; spread over the history
// workflows, copies of VIP routing that no event triggers, history.limit
// 10000 each, so the manager keeps them) and b.o.preloadWaiting waiting
// bench-wait runs (phase Waiting, wakeAt 1–3 h ahead), each with a create
// and a status write from a bounded worker pool, then restarts the manager
// and waits until its writes settle.
func (b *bench) preload(ctx context.Context) error {
	if b.mgr.proc.running() {
		b.mgr.stop()
	}
	vipTpl, err := b.finishedTemplate(ctx)
	if err != nil {
		return err
	}
	var hist []*v1alpha1.Workflow
	for i := 1; i <= historyWorkflows; i++ {
		var wf v1alpha1.Workflow
		if err := b.c.Get(ctx, client.ObjectKey{Namespace: benchNS, Name: fmt.Sprintf("%s%d", historyWorkflowPrefix, i)}, &wf); err != nil {
			return err
		}
		hist = append(hist, &wf)
	}
	var waitWF v1alpha1.Workflow
	if err := b.c.Get(ctx, client.ObjectKey{Namespace: benchNS, Name: waitWorkflow}, &waitWF); err != nil {
		return err
	}
	now := time.Now()
	say("preloading %d finished and %d waiting runs with %d writers (manager stopped)", b.o.preloadFinished, b.o.preloadWaiting, b.o.preloadWorkers)
	rate, err := b.parallel(ctx, b.o.preloadFinished, b.o.preloadWorkers, func(ctx context.Context, i int) error {
		wf := hist[i%len(hist)]
		run := runOf(vipTpl, wf, fmt.Sprintf("pre-fin-%06d", i), fmt.Sprintf("c-pre-%05d", i%b.o.contacts))
		_, err := b.createWithStatus(ctx, run, &vipTpl.Status)
		return err
	})
	if err != nil {
		return fmt.Errorf("preload finished runs: %w", err)
	}
	say("finished runs created at %.1f runs/s (create + status)", rate)
	spread := 2 * time.Hour
	rate, err = b.parallel(ctx, b.o.preloadWaiting, b.o.preloadWorkers, func(ctx context.Context, i int) error {
		wakeAt := now.Add(time.Hour + time.Duration(int64(spread)*int64(i)/int64(b.o.preloadWaiting))).Truncate(time.Second)
		run := runOf(b.waiting, &waitWF, fmt.Sprintf("pre-wait-%06d", i), fmt.Sprintf("c-wait-%05d", i%b.o.contacts))
		_, err := b.createWithStatus(ctx, run, waitingStatus(b.waiting, wakeAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("preload waiting runs: %w", err)
	}
	say("waiting runs created at %.1f runs/s (create + status)", rate)
	w0, err := b.cp.apiWrites(ctx)
	if err != nil {
		return err
	}
	t := time.Now()
	if err := b.startManager(ctx); err != nil {
		return err
	}
	rss := startRSSSampler(100*time.Millisecond, func() []int { return []int{b.mgr.pid()} })
	if _, err := b.waitWritesQuiet(ctx, 3*time.Second, 5*time.Minute); err != nil {
		return err
	}
	w1, err := b.cp.apiWrites(ctx)
	if err != nil {
		return err
	}
	peak, _ := rss.stop()
	d := w1.minus(w0)
	fmt.Printf("\n== preload: %d finished + %d waiting runs stored; the manager restarted and settled in %s, writing %.0f times [%v], manager peak RSS %.0f MiB\n",
		b.o.preloadFinished, b.o.preloadWaiting, time.Since(t).Round(time.Millisecond), d.total(), d, mib(peak))
	return nil
}

// runOf returns a run of tpl's shape for workflow wf (its current revision),
// named name, for subject.
func runOf(tpl *v1alpha1.WorkflowRun, wf *v1alpha1.Workflow, name, subject string) *v1alpha1.WorkflowRun {
	run := newRunFrom(tpl, name, false)
	run.Labels[v1alpha1.LabelWorkflow] = v1alpha1.WorkflowLabelValue(wf.Name)
	run.Labels[v1alpha1.LabelSubjectHash] = v1alpha1.SubjectHash(subject)
	run.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(wf, v1alpha1.GroupVersion.WithKind("Workflow"))}
	run.Spec.WorkflowName = wf.Name
	run.Spec.WorkflowRevision = wf.Status.CurrentRevision
	run.Spec.WorkflowGeneration = wf.Generation
	run.Spec.Subject = subject
	if run.Spec.Event != nil {
		run.Spec.Event.ID = name
		run.Spec.Event.Subject = subject
	}
	return run
}

// waitingStatus is tpl's waiting status moved to wake at wakeAt: the wait
// step (a duration) started waitDuration before.
func waitingStatus(tpl *v1alpha1.WorkflowRun, wakeAt time.Time) *v1alpha1.WorkflowRunStatus {
	st := tpl.Status.DeepCopy()
	st.WakeAt = &metav1.Time{Time: wakeAt}
	started := metav1.NewTime(wakeAt.Add(-waitDuration))
	st.StartTime = &started
	for i := range st.Steps {
		if st.Steps[i].Phase == v1alpha1.StepWaiting || st.Steps[i].Phase == v1alpha1.StepRunning || st.Steps[i].Name == st.CurrentStep {
			st.Steps[i].StartTime = &started
		}
	}
	if st.WaitingFor != nil {
		st.WaitingFor.Message = fmt.Sprintf("%s, until %s", waitDuration, wakeAt.UTC().Format(time.RFC3339))
	}
	return st
}
