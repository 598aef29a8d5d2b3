package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// repResult is one repetition's figures.
type repResult struct {
	rate        float64 // events/s end to end
	p50, p99    time.Duration
	writes      requestCounts // per event
	cpuMs       float64       // per event
	rssPeak     int64
	rssEach     [3]int64 // manager, kube-apiserver, etcd
	lost        int
	dupRuns     int
	dupKeys     int
	notEnrolled int
	retries     int64
	failed      int64
	mgrErrors   int
	watchCache  float64 // kube-apiserver's watch cache capacity for runs, at the end
	heapInuse   float64 // kube-apiserver's Go heap in use, at the end
}

// e2ePhase measures every sender count, counts what is left in etcd, then
// stops the manager and measures the baselines. It returns the end-to-end
// rate at the last (largest) sender count.
func (b *bench) e2ePhase(ctx context.Context, label string) (float64, error) {
	b.phase++
	if !b.mgr.proc.running() {
		if err := b.startManager(ctx); err != nil {
			return 0, err
		}
	}
	if d, err := b.waitWritesQuiet(ctx, 2*time.Second, 5*time.Minute); err != nil {
		return 0, err
	} else if d > 3*time.Second {
		say("API writes settled after %s", d.Round(time.Millisecond))
	}
	fmt.Printf("\n== end to end, %s: VIP routing, %d events × %d reps per sender count, %d contacts, etcd with fsync\n", label, b.o.events, b.o.reps, b.o.contacts)
	var lastRate float64
	for _, senders := range b.o.senders {
		var reps []repResult
		for r := 1; r <= b.o.reps; r++ {
			res, err := b.rep(ctx, senders, r)
			if err != nil {
				return 0, err
			}
			reps = append(reps, res)
			fmt.Printf("  senders %2d rep %d: %6.1f events/s, ack p50 %s p99 %s, %.2f writes/event, %.1f CPU ms/event, peak RSS %.0f MiB (manager %.0f, kube-apiserver %.0f, etcd %.0f); lost %d, duplicate runs %d, duplicate deliveries %d, not enrolled %d, retries %d, failed posts %d, manager error lines %d; kube-apiserver heap in use %.0f MiB, its watch cache of runs holds %.0f events\n",
				senders, r, res.rate, ms(res.p50), ms(res.p99), res.writes.total(), res.cpuMs, mib(res.rssPeak), mib(res.rssEach[0]), mib(res.rssEach[1]), mib(res.rssEach[2]),
				res.lost, res.dupRuns, res.dupKeys, res.notEnrolled, res.retries, res.failed, res.mgrErrors, res.heapInuse/(1<<20), res.watchCache)
		}
		lastRate = printMedians(senders, reps)
	}
	if err := b.countObjects(ctx); err != nil {
		return 0, err
	}
	if err := b.baselines(ctx, lastRate); err != nil {
		return 0, err
	}
	return lastRate, nil
}

// printMedians prints the medians over reps and returns the median rate.
func printMedians(senders int, reps []repResult) float64 {
	var rate, cpu, rss, total []float64
	var p50, p99 []time.Duration
	byKey := map[string][]float64{}
	var lost, dupRuns, dupKeys int
	for i := range reps {
		r := &reps[i]
		rate, cpu, rss, total = append(rate, r.rate), append(cpu, r.cpuMs), append(rss, float64(r.rssPeak)), append(total, r.writes.total())
		p50, p99 = append(p50, r.p50), append(p99, r.p99)
		for k := range r.writes {
			byKey[k] = nil
		}
		lost, dupRuns, dupKeys = lost+r.lost, dupRuns+r.dupRuns, dupKeys+r.dupKeys
	}
	for k := range byKey {
		for i := range reps {
			r := &reps[i]
			byKey[k] = append(byKey[k], r.writes[k])
		}
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		if m := median(byKey[k]); m >= 0.005 {
			parts = append(parts, fmt.Sprintf("%s %.2f", k, m))
		}
	}
	fmt.Printf("MEDIAN senders %2d (%d reps): %.1f events/s end to end | ack p50 %s p99 %s | %.2f API writes/event [%s] | %.1f CPU ms/event (manager+kube-apiserver+etcd) | peak RSS %.0f MiB | lost %d, duplicates %d runs / %d deliveries (all reps)\n",
		senders, len(reps), median(rate), ms(medianDur(p50)), ms(medianDur(p99)), median(total), strings.Join(parts, ", "),
		median(cpu), median(rss)/(1<<20), lost, dupRuns, dupKeys)
	return median(rate)
}

// rep posts b.o.events VIP events with senders closed-loop senders and
// measures until the sink has every side effect.
func (b *bench) rep(ctx context.Context, senders, rep int) (repResult, error) {
	var res repResult
	pids := []int{b.mgr.pid(), b.cp.apiserver.pid(), b.cp.etcd.pid()}
	writes0, err := b.cp.apiWrites(ctx)
	if err != nil {
		return res, err
	}
	errs0 := b.mgr.errorLines()
	cpu0 := cpuOf(pids)
	rss := startRSSSampler(100*time.Millisecond, func() []int { return pids })
	distinct0, _ := b.sink.distinct()

	n := b.o.events
	ids := make([]string, n)
	lat := make([]time.Duration, n)
	enrolled := make([]bool, n)
	var next atomic.Int64
	var retries, failed atomic.Int64
	var skipOnce sync.Once
	repCtx, cancel := context.WithTimeout(ctx, b.o.repTimeout)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || repCtx.Err() != nil {
					return
				}
				id := fmt.Sprintf("p%d-s%d-r%d-%06d", b.phase, senders, rep, i)
				contact := fmt.Sprintf("c-%05d", (b.seq+i)%b.o.contacts)
				ids[i] = id
				// A sender retries what was not acknowledged, with the same
				// id, as a real one would; deduplication must hold.
				for attempt := 0; attempt < 5; attempt++ {
					if attempt > 0 {
						retries.Add(1)
						_ = sleep(repCtx, time.Duration(attempt)*200*time.Millisecond)
					}
					r, err := b.send(repCtx, vipEvent(id, contact))
					if err != nil {
						if attempt == 4 {
							failed.Add(1)
							fmt.Printf("    post %s failed: %v\n", id, err)
						}
						continue
					}
					lat[i] = r.latency
					enrolled[i] = len(r.enrolled) > 0
					if !enrolled[i] {
						skipOnce.Do(func() { fmt.Printf("    event %s did not enroll: %s\n", id, r.skipped) })
					}
					break
				}
			}
		}()
	}
	wg.Wait()
	b.seq += n
	// Wait until the sink has seen 3 side effects per enrolled event.
	want := 0
	for i := range enrolled {
		if enrolled[i] {
			want += sideEffects
			b.subject[fmt.Sprintf("c-%05d", (b.seq-n+i)%b.o.contacts)] = true
		} else {
			res.notEnrolled++
		}
	}
	var end time.Time
	for {
		got, last := b.sink.distinct()
		if got-distinct0 >= want {
			end = last
			break
		}
		if repCtx.Err() != nil {
			end = time.Now()
			fmt.Printf("    repetition time limit (%s): the sink has %d of %d side effects\n", b.o.repTimeout, got-distinct0, want)
			break
		}
		if !b.mgr.proc.running() {
			return res, fmt.Errorf("the manager exited during the repetition:\n%s", b.mgr.proc.tail(30))
		}
		_ = sleep(repCtx, 10*time.Millisecond)
	}
	elapsed := end.Sub(start)
	// The run's status is written after its last side effect: take the
	// writes once they stopped.
	if _, err := b.waitWritesQuiet(ctx, time.Second, 30*time.Second); err != nil {
		return res, err
	}
	writes1, err := b.cp.apiWrites(ctx)
	if err != nil {
		return res, err
	}
	cpu1 := cpuOf(pids)
	var each map[int]int64
	res.rssPeak, each = rss.stop()
	for i, pid := range pids {
		res.rssEach[i] = each[pid]
	}
	res.rate = float64(n) / elapsed.Seconds()
	var acked []time.Duration
	for _, l := range lat {
		if l > 0 {
			acked = append(acked, l)
		}
	}
	res.p50, res.p99 = percentile(acked, 50), percentile(acked, 99)
	res.writes = requestCounts{}
	for k, v := range writes1.minus(writes0) {
		res.writes[k] = v / float64(n)
	}
	res.cpuMs = float64(cpu1-cpu0) / float64(time.Millisecond) / float64(n)
	res.lost, res.dupRuns, res.dupKeys = b.sink.check(ids)
	res.retries, res.failed = retries.Load(), failed.Load()
	res.mgrErrors = b.mgr.errorLines() - errs0
	if g, err := b.cp.gauges(ctx, seriesRunWatchCache, seriesHeapInuse); err == nil {
		res.watchCache, res.heapInuse = g[seriesRunWatchCache], g[seriesHeapInuse]
	}
	return res, nil
}
