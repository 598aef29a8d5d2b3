package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// baselines stops the manager and measures, with b.o.bareWorkers writers,
// the bare two-write loop and ConfigMap creates of the run's size; it prints
// them with the ratio of e2eRate to the bare loop.
func (b *bench) baselines(ctx context.Context, e2eRate float64) error {
	tpl, err := b.finishedTemplate(ctx)
	if err != nil {
		return err
	}
	say("stopping the manager for the baselines")
	b.mgr.stop()
	size := serializedSize(tpl)
	n := b.o.events
	var bare, cms []float64
	for r := 1; r <= b.o.reps; r++ {
		rate, err := b.parallel(ctx, n, b.o.bareWorkers, func(ctx context.Context, i int) error {
			_, err := b.createWithStatus(ctx, newRunFrom(tpl, fmt.Sprintf("bare-%d-%d-%06d", b.phase, r, i), true), &tpl.Status)
			return err
		})
		if err != nil {
			return fmt.Errorf("bare two-write loop: %w", err)
		}
		bare = append(bare, rate)
		if err := b.c.DeleteAllOf(ctx, &v1alpha1.WorkflowRun{}, client.InNamespace(benchNS), client.MatchingLabels{benchLabel: "true"}); err != nil {
			return fmt.Errorf("delete the bare loop's runs: %w", err)
		}
		cm := configMapOfSize(size)
		rate, err = b.parallel(ctx, n, b.o.bareWorkers, func(ctx context.Context, i int) error {
			obj := cm.DeepCopy()
			obj.Name = fmt.Sprintf("bare-cm-%d-%d-%06d", b.phase, r, i)
			return b.c.Create(ctx, obj)
		})
		if err != nil {
			return fmt.Errorf("ConfigMap baseline: %w", err)
		}
		cms = append(cms, rate)
		if err := b.c.DeleteAllOf(ctx, &corev1.ConfigMap{}, client.InNamespace(benchNS), client.MatchingLabels{benchLabel: "true"}); err != nil {
			return fmt.Errorf("delete the baseline's ConfigMaps: %w", err)
		}
		fmt.Printf("  baseline rep %d: bare two-write loop %.1f runs/s, ConfigMap creates %.1f/s\n", r, bare[r-1], cms[r-1])
	}
	mb, mc := median(bare), median(cms)
	fmt.Printf("MEDIAN baselines (manager stopped, %d writers, %d per rep, run %d bytes as JSON, revision %s):\n", b.o.bareWorkers, n, size, tpl.Spec.WorkflowRevision)
	fmt.Printf("  bare two-write loop (create run + write its final status): %.1f runs/s\n", mb)
	fmt.Printf("  ConfigMap creates of the same size:                        %.1f creates/s\n", mc)
	fmt.Printf("  e2e events/s at %d senders ÷ bare loop = %.1f ÷ %.1f = %.3f (acceptance ≥ 0.7)\n", b.o.senders[len(b.o.senders)-1], e2eRate, mb, e2eRate/mb)
	fmt.Printf("  bare loop ÷ ConfigMap creates = %.3f\n", mb/mc)
	return nil
}

// finishedTemplate returns a finished VIP run the manager wrote in this
// phase (or the warm-up run).
func (b *bench) finishedTemplate(ctx context.Context) (*v1alpha1.WorkflowRun, error) {
	var runs v1alpha1.WorkflowRunList
	if err := b.c.List(ctx, &runs, client.InNamespace(benchNS), client.MatchingLabels{v1alpha1.LabelWorkflow: vipWorkflow}, client.Limit(100)); err != nil {
		return nil, fmt.Errorf("list VIP runs: %w", err)
	}
	for i := range runs.Items {
		if r := &runs.Items[i]; r.Status.Phase == v1alpha1.RunSucceeded && !strings.HasPrefix(r.Name, "bare-") {
			return r, nil
		}
	}
	return b.finished, nil
}

// newRunFrom returns a run of tpl's shape (spec, labels, owner), named name,
// without status; baseline marks it for deletion after the baseline.
func newRunFrom(tpl *v1alpha1.WorkflowRun, name string, baseline bool) *v1alpha1.WorkflowRun {
	labels := map[string]string{}
	for k, v := range tpl.Labels {
		labels[k] = v
	}
	if baseline {
		labels[benchLabel] = "true"
	}
	return &v1alpha1.WorkflowRun{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: tpl.Namespace, Labels: labels,
			Annotations: tpl.Annotations, OwnerReferences: tpl.OwnerReferences,
		},
		Spec: *tpl.Spec.DeepCopy(),
	}
}

// createWithStatus creates run, then writes st as its status: two writes.
func (b *bench) createWithStatus(ctx context.Context, run *v1alpha1.WorkflowRun, st *v1alpha1.WorkflowRunStatus) (*v1alpha1.WorkflowRun, error) {
	if err := b.c.Create(ctx, run); err != nil {
		return nil, fmt.Errorf("create run %s: %w", run.Name, err)
	}
	run.Status = *statusFor(run, st)
	if err := b.c.Status().Update(ctx, run); err != nil {
		return nil, fmt.Errorf("write status of run %s: %w", run.Name, err)
	}
	return run, nil
}

// statusFor is a copy of st for run: its idempotency keys hold the run's
// UID, as the manager writes them.
func statusFor(run *v1alpha1.WorkflowRun, st *v1alpha1.WorkflowRunStatus) *v1alpha1.WorkflowRunStatus {
	st = st.DeepCopy()
	for i := range st.Steps {
		if k := st.Steps[i].IdempotencyKey; k != "" {
			if _, step, ok := strings.Cut(k, "/"); ok {
				st.Steps[i].IdempotencyKey = string(run.UID) + "/" + step
			}
		}
	}
	return st
}

// serializedSize is the JSON size of obj as stored, without managedFields.
func serializedSize(run *v1alpha1.WorkflowRun) int {
	c := run.DeepCopy()
	c.ManagedFields = nil
	c.APIVersion, c.Kind = v1alpha1.GroupVersion.String(), "WorkflowRun"
	raw, _ := json.Marshal(c)
	return len(raw)
}

// configMapOfSize returns a ConfigMap whose stored JSON (with the metadata
// the server adds) is about size bytes.
func configMapOfSize(size int) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Namespace: benchNS, Name: "bare-cm-1-1-000000", Labels: map[string]string{benchLabel: "true"}},
		Data:       map[string]string{"payload": ""},
	}
	probe := cm.DeepCopy()
	probe.UID = types.UID("00000000-0000-0000-0000-000000000000")
	probe.ResourceVersion = "1234567"
	probe.CreationTimestamp = metav1.Now()
	raw, _ := json.Marshal(probe)
	if pad := size - len(raw); pad > 0 {
		cm.Data["payload"] = strings.Repeat("x", pad)
	}
	return cm
}

// parallel runs op for i in [0,n) on workers goroutines and returns
// completions per second; it stops at the first error and after 10 minutes.
func (b *bench) parallel(ctx context.Context, n, workers int, op func(context.Context, int) error) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	var next, done atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := op(ctx, i); err != nil {
					once.Do(func() { firstErr = err; cancel() })
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return 0, firstErr
	}
	if int(done.Load()) < n {
		return 0, fmt.Errorf("%d of %d done before the time limit: %w", done.Load(), n, ctx.Err())
	}
	return float64(n) / elapsed.Seconds(), nil
}

// countObjects prints what is left in etcd per enrolled subject once the
// runs finished and their retention passed (the archive grace, the
// removeAfter slot, a sweep): Leases, ControllerRevisions, runs, Kubernetes
// Events.
func (b *bench) countObjects(ctx context.Context) error {
	if _, err := b.waitWritesQuiet(ctx, 2*time.Second, time.Minute); err != nil {
		return err
	}
	gone, err := b.waitVIPRunsGone(ctx, 3*time.Minute)
	if err != nil {
		return err
	}
	var leases coordinationv1.LeaseList
	if err := b.c.List(ctx, &leases); err != nil {
		return fmt.Errorf("list leases: %w", err)
	}
	inNS, elsewhere := 0, map[string]int{}
	for i := range leases.Items {
		l := &leases.Items[i]
		if l.Namespace == benchNS {
			inNS++
		} else {
			elsewhere[l.Namespace]++
		}
	}
	var revs appsv1.ControllerRevisionList
	if err := b.c.List(ctx, &revs, client.InNamespace(benchNS)); err != nil {
		return fmt.Errorf("list controller revisions: %w", err)
	}
	runs := &metav1.PartialObjectMetadataList{}
	runs.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("WorkflowRunList"))
	if err := b.c.List(ctx, runs, client.InNamespace(benchNS)); err != nil {
		return fmt.Errorf("list runs: %w", err)
	}
	byWorkflow := map[string]int{}
	for i := range runs.Items {
		r := &runs.Items[i]
		byWorkflow[r.Labels[v1alpha1.LabelWorkflow]]++
	}
	var events corev1.EventList
	if err := b.c.List(ctx, &events, client.InNamespace(benchNS)); err != nil {
		return fmt.Errorf("list events: %w", err)
	}
	subjects := len(b.subject)
	per := func(n int) float64 { return float64(n) / float64(max(subjects, 1)) }
	fmt.Printf("OBJECTS in etcd after the runs finished and their retention passed (%d enrolled subjects, namespace %s; the last VIP run left etcd %s after the writes settled):\n",
		subjects, benchNS, gone.Round(time.Second))
	fmt.Printf("  Leases %d (%.3f per subject; other namespaces: %v)\n", inNS, per(inNS), elsewhere)
	fmt.Printf("  ControllerRevisions %d\n", len(revs.Items))
	fmt.Printf("  Kubernetes Events %d (%.3f per subject; the API server drops them after its event TTL, 1h by default)\n", len(events.Items), per(len(events.Items)))
	fmt.Printf("  WorkflowRuns %d by workflow %v (%.3f VIP runs per subject) — archived runs leave etcd --archive-grace after they finish; without the history store, at history.limit (default %d) or ttlAfterFinished (default %s)\n",
		len(runs.Items), byWorkflow, per(byWorkflow[vipWorkflow]), v1alpha1.DefaultHistoryLimit, v1alpha1.DefaultTTLAfterFinished)
	return nil
}

// waitVIPRunsGone waits until no finished VIP routing run is left in etcd
// (at most limit) and returns how long that took.
func (b *bench) waitVIPRunsGone(ctx context.Context, limit time.Duration) (time.Duration, error) {
	start := time.Now()
	for {
		runs := &metav1.PartialObjectMetadataList{}
		runs.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("WorkflowRunList"))
		if err := b.c.List(ctx, runs, client.InNamespace(benchNS), client.MatchingLabels{v1alpha1.LabelWorkflow: vipWorkflow}); err != nil {
			return 0, fmt.Errorf("list VIP runs: %w", err)
		}
		if len(runs.Items) == 0 || time.Since(start) > limit {
			return time.Since(start), nil
		}
		if err := sleep(ctx, time.Second); err != nil {
			return 0, err
		}
	}
}
