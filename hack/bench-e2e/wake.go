package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// wake measures how late waiting runs advance.
//
// With the manager stopped it first measures, with -preload-workers
// writers, the create rate and two status-write rates of runs of bench-wait's
// shape: writing a waiting status, and then, on the same runs, the status a
// woken run finishes with (bench-nap's template: bench-wait's steps, the wait
// cut to a second). The second is the write each wake makes, so it is the
// "status-write rate measured in the same run" of the burst's bound. It then creates
// -wake-runs runs whose wakeAt (whole seconds) are spread evenly over
// -wake-window, and -wake-burst runs that all wake at the same second (the
// middle of the window), each with a create and a status write (phase
// Waiting, the wait step started waitDuration before wakeAt); the window
// starts far enough ahead that creating them ends before it. Then it starts
// the manager and watches the runs.
//
// Lateness of a run = the time this program's watch receives the first
// version of the run whose wait step is no longer Waiting (the manager's
// status write that advanced it) − its wakeAt. wakeAt is a whole second and
// the manager compares its precise clock to it, so the earliest possible
// advance is wakeAt itself; the watch delivery adds milliseconds, so the
// figure is an upper bound. The burst is "all advanced within" (the latest
// advance of the burst − the burst second), beside the bound
// 1.2 × burst ÷ status-write rate.
func (b *bench) wake(ctx context.Context) error {
	var wf v1alpha1.Workflow
	if err := b.c.Get(ctx, client.ObjectKey{Namespace: benchNS, Name: waitWorkflow}, &wf); err != nil {
		return err
	}
	say("stopping the manager to calibrate and create the waiting runs")
	b.mgr.stop()

	// Calibrate: creates, then status writes, of runs like the ones to come.
	cal := min(1000, b.o.wakeRuns+b.o.wakeBurst)
	far := time.Now().Add(10 * time.Hour).Truncate(time.Second)
	runs := make([]*v1alpha1.WorkflowRun, cal)
	createRate, err := b.parallel(ctx, cal, b.o.preloadWorkers, func(ctx context.Context, i int) error {
		run := runOf(b.waiting, &wf, fmt.Sprintf("cal-%06d", i), fmt.Sprintf("c-cal-%05d", i))
		run.Labels[benchLabel] = "true"
		runs[i] = run
		return b.c.Create(ctx, run)
	})
	if err != nil {
		return fmt.Errorf("calibrate creates: %w", err)
	}
	// The status writes are timed with the bench's own watch of the runs
	// open, as it is while the runs wake: the API server's fan-out of each
	// write to that watch is then on both sides of the comparison.
	var calList v1alpha1.WorkflowRunList
	if err := b.c.List(ctx, &calList, client.InNamespace(benchNS), client.Limit(1)); err != nil {
		return err
	}
	calCtx, stopCalWatch := context.WithCancel(ctx)
	go b.watchAdvances(calCtx, calList.ResourceVersion, map[string]int{}, newAdvanceWatch())
	waitingRate, err := b.parallel(ctx, cal, b.o.preloadWorkers, func(ctx context.Context, i int) error {
		runs[i].Status = *waitingStatus(b.waiting, far)
		return b.c.Status().Update(ctx, runs[i])
	})
	if err != nil {
		stopCalWatch()
		return fmt.Errorf("calibrate status writes: %w", err)
	}
	// The write a wake makes: the same runs, from waiting to the status a
	// woken run finishes with (bench-nap's, which has bench-wait's steps).
	cp := []int{b.cp.apiserver.pid(), b.cp.etcd.pid()}
	calCPU0 := cpuOf(cp)
	statusRate, err := b.parallel(ctx, cal, b.o.preloadWorkers, func(ctx context.Context, i int) error {
		runs[i].Status = *statusFor(runs[i], &b.woke.Status)
		return b.c.Status().Update(ctx, runs[i])
	})
	stopCalWatch()
	calCPU := cpuOf(cp) - calCPU0
	if err != nil {
		return fmt.Errorf("calibrate finishing status writes: %w", err)
	}
	if err := b.c.DeleteAllOf(ctx, &v1alpha1.WorkflowRun{}, client.InNamespace(benchNS), client.MatchingLabels{benchLabel: "true"}); err != nil {
		return fmt.Errorf("delete calibration runs: %w", err)
	}
	fmt.Printf("\n== wake: calibration with %d writers, %d runs (manager stopped, the bench's watch open): creates %.1f/s; status writes %.1f/s to waiting, %.1f/s from waiting to finished (the write a wake makes)\n",
		b.o.preloadWorkers, cal, createRate, waitingRate, statusRate)
	fmt.Printf("  CPU per finishing status write: kube-apiserver + etcd %s\n", ms(calCPU/time.Duration(cal)))

	total := b.o.wakeRuns + b.o.wakeBurst
	est := time.Duration(float64(total)/createRate*float64(time.Second)) + time.Duration(float64(total)/statusRate*float64(time.Second))
	// Creating shares the machine with whatever else runs: leave room.
	w0 := time.Now().Add(2*est + time.Minute).Truncate(time.Second).Add(time.Second)
	burstAt := w0.Add(b.o.wakeWindow / 2).Truncate(time.Second)
	wakeAt := make([]time.Time, total)
	names := make([]string, total)
	index := map[string]int{}
	for i := range total {
		if i < b.o.wakeRuns {
			wakeAt[i] = w0.Add(time.Duration(int64(b.o.wakeWindow) * int64(i) / int64(b.o.wakeRuns))).Truncate(time.Second)
			names[i] = fmt.Sprintf("wake-%06d", i)
		} else {
			wakeAt[i] = burstAt
			names[i] = fmt.Sprintf("burst-%06d", i)
		}
		index[names[i]] = i
	}
	say("creating %d waiting runs (window %s from %s, burst of %d at %s)", total, b.o.wakeWindow, w0.UTC().Format("15:04:05"), b.o.wakeBurst, burstAt.UTC().Format("15:04:05"))
	if _, err := b.parallel(ctx, total, b.o.preloadWorkers, func(ctx context.Context, i int) error {
		run := runOf(b.waiting, &wf, names[i], fmt.Sprintf("c-wake-%05d", i%b.o.contacts))
		_, err := b.createWithStatus(ctx, run, waitingStatus(b.waiting, wakeAt[i]))
		return err
	}); err != nil {
		return fmt.Errorf("create waiting runs: %w", err)
	}
	if late := time.Since(w0); late > -5*time.Second {
		fmt.Printf("  WARNING: creating the runs ended %s before the window start (less than 5s); early wakes are late by construction\n", -late)
	}

	var list v1alpha1.WorkflowRunList
	if err := b.c.List(ctx, &list, client.InNamespace(benchNS), client.Limit(1)); err != nil {
		return err
	}
	seen := newAdvanceWatch()
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go b.watchAdvances(watchCtx, list.ResourceVersion, index, seen)

	writes0, err := b.cp.apiWrites(ctx)
	if err != nil {
		return err
	}
	if err := b.startManager(ctx); err != nil {
		return err
	}
	readyAt := time.Now()
	rss := startRSSSampler(100*time.Millisecond, func() []int { return []int{b.mgr.pid()} })
	deadline := w0.Add(b.o.wakeWindow + 3*time.Minute)
	lastReport := time.Now()
	stack := []int{b.cp.apiserver.pid(), b.cp.etcd.pid(), b.mgr.pid()}
	var burstCPU0, burstCPU1 [3]time.Duration // from the burst second until the burst has advanced
	burstDone0, burstDone1 := time.Time{}, time.Time{}
	for seen.count() < total && time.Now().Before(deadline) {
		if burstDone0.IsZero() && !time.Now().Before(burstAt) {
			burstDone0 = time.Now()
			for i, pid := range stack {
				burstCPU0[i] = cpuOf([]int{pid})
			}
		}
		if !burstDone0.IsZero() && burstDone1.IsZero() && seen.countFrom(index, b.o.wakeRuns) == b.o.wakeBurst {
			burstDone1 = time.Now()
			for i, pid := range stack {
				burstCPU1[i] = cpuOf([]int{pid})
			}
		}
		if !b.mgr.proc.running() {
			return fmt.Errorf("the manager exited:\n%s", b.mgr.proc.tail(30))
		}
		if time.Since(lastReport) > 30*time.Second {
			say("%d of %d runs advanced", seen.count(), total)
			lastReport = time.Now()
		}
		if err := sleep(ctx, 250*time.Millisecond); err != nil {
			return err
		}
	}
	peak, _ := rss.stop()
	writes1, err := b.cp.apiWrites(ctx)
	if err != nil {
		return err
	}
	stopWatch()

	var spread, burst []time.Duration
	var burstLast time.Time
	early := 0
	seen.mu.Lock()
	dueEarly := 0
	for name, t := range seen.at {
		i := index[name]
		if wakeAt[i].Before(readyAt.Add(time.Second)) {
			dueEarly++ // due before the manager ran: late by construction
			continue
		}
		l := t.Sub(wakeAt[i])
		if l < 0 {
			early++
		}
		if i < b.o.wakeRuns {
			spread = append(spread, l)
		} else {
			burst = append(burst, l)
			if t.After(burstLast) {
				burstLast = t
			}
		}
	}
	seen.mu.Unlock()
	d := writes1.minus(writes0)
	fmt.Printf("  lateness (watch saw the advancing status write − wakeAt):\n")
	fmt.Printf("    spread: %d of %d advanced, p50 %s p99 %s max %s\n", len(spread), b.o.wakeRuns, ms(percentile(spread, 50)), ms(percentile(spread, 99)), ms(percentile(spread, 100)))
	fmt.Printf("    burst:  %d of %d advanced, p50 %s p99 %s max %s\n", len(burst), b.o.wakeBurst, ms(percentile(burst, 50)), ms(percentile(burst, 99)), ms(percentile(burst, 100)))
	if dueEarly > 0 {
		fmt.Printf("    %d runs were due before the manager was ready and are left out (creating them overran the window start)\n", dueEarly)
	}
	if early > 0 {
		fmt.Printf("    WARNING: %d runs advanced before their wakeAt\n", early)
	}
	bound := time.Duration(1.2 * float64(b.o.wakeBurst) / statusRate * float64(time.Second))
	within := time.Duration(0)
	if !burstLast.IsZero() {
		within = burstLast.Sub(burstAt)
	}
	fmt.Printf("  burst of %d at one second: all advanced within %s; bound 1.2 × %d ÷ %.1f finishing status writes/s = %s (%s); with the writes to waiting instead, 1.2 × %d ÷ %.1f = %s\n",
		b.o.wakeBurst, ms(within), b.o.wakeBurst, statusRate, ms(bound), map[bool]string{true: "met", false: "NOT met"}[len(burst) == b.o.wakeBurst && within <= bound],
		b.o.wakeBurst, waitingRate, ms(time.Duration(1.2*float64(b.o.wakeBurst)/waitingRate*float64(time.Second))))
	if !burstDone1.IsZero() {
		n := time.Duration(b.o.wakeBurst)
		fmt.Printf("  CPU per burst wake (the burst second until all %d advanced, %s; the spread's wakes in that time included): kube-apiserver %s, etcd %s, manager %s\n",
			b.o.wakeBurst, ms(burstDone1.Sub(burstDone0)), ms((burstCPU1[0]-burstCPU0[0])/n), ms((burstCPU1[1]-burstCPU0[1])/n), ms((burstCPU1[2]-burstCPU0[2])/n))
	}
	fmt.Printf("  manager peak RSS %.0f MiB (acceptance < 256 MiB); API writes while waking: %.0f (%.2f per run) [%v]; manager error lines %d\n",
		mib(peak), d.total(), d.total()/float64(total), d, b.mgr.errorLines())
	return nil
}

// advanceWatch records when each run was first seen advanced.
type advanceWatch struct {
	mu sync.Mutex
	at map[string]time.Time
}

func newAdvanceWatch() *advanceWatch { return &advanceWatch{at: map[string]time.Time{}} }

// countFrom is how many runs whose index is at least from have advanced.
func (w *advanceWatch) countFrom(index map[string]int, from int) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for name := range w.at {
		if index[name] >= from {
			n++
		}
	}
	return n
}

func (w *advanceWatch) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.at)
}

// advanced reports whether run's wait step is done (or the run finished).
func advanced(run *v1alpha1.WorkflowRun) bool {
	if run.Status.Phase.IsFinished() {
		return true
	}
	for i := range run.Status.Steps {
		s := &run.Status.Steps[i]
		if s.Name == "nap" {
			return s.Phase != v1alpha1.StepWaiting && s.Phase != v1alpha1.StepRunning && s.Phase != ""
		}
	}
	return false
}

// watchAdvances watches bench-wait runs from rv and records the first time
// each run in index is seen advanced; it re-watches when the server closes
// the watch.
func (b *bench) watchAdvances(ctx context.Context, rv string, index map[string]int, w *advanceWatch) {
	sel := labels.SelectorFromSet(labels.Set{v1alpha1.LabelWorkflow: waitWorkflow})
	for ctx.Err() == nil {
		wi, err := b.c.Watch(ctx, &v1alpha1.WorkflowRunList{}, &client.ListOptions{
			Namespace: benchNS, LabelSelector: sel, Raw: &metav1.ListOptions{ResourceVersion: rv},
		})
		if err != nil {
			if ctx.Err() == nil {
				fmt.Printf("  watch: %v; retrying\n", err)
				_ = sleep(ctx, time.Second)
			}
			continue
		}
		for ev := range wi.ResultChan() {
			now := time.Now()
			if ev.Type == watch.Error {
				if ctx.Err() == nil {
					fmt.Printf("  watch error event: %v; re-watching\n", ev.Object)
				}
				break
			}
			run, ok := ev.Object.(*v1alpha1.WorkflowRun)
			if !ok {
				continue
			}
			rv = run.ResourceVersion
			if _, mine := index[run.Name]; !mine || !advanced(run) {
				continue
			}
			w.mu.Lock()
			if _, done := w.at[run.Name]; !done {
				w.at[run.Name] = now
			}
			w.mu.Unlock()
		}
		wi.Stop()
	}
}
