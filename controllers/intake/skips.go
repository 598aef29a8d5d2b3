package intake

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// skipRecorder answers "why didn't it fire?". It gathers skips and
// enrollments per workflow in memory and writes them to the Workflow's
// status.skippedEvents and status.lastTriggeredTime every flush interval,
// with one merge patch per workflow that touches only those two fields and
// carries the resourceVersion read (conflict → read again, merge again), so
// the workflow.Reconciler's fields are never erased. A burst of 1000 skips
// costs one write. Counters not yet flushed are lost if the process dies:
// they are observability, never an acknowledged event.
//
// It also records a Kubernetes Event per workflow and reason at most once
// per EventInterval, saying how many events were skipped and the last why.
type skipRecorder struct {
	client        client.Client
	live          client.Reader
	clock         clock.WithTicker
	recorder      events.EventRecorder
	eventInterval time.Duration

	mu         sync.Mutex
	pending    map[types.NamespacedName]*delta
	lastEvents map[string]time.Time // "<ns>/<wf>/<reason>" → last Kubernetes Event
	unreported map[string]int64     // skips not yet told in a Kubernetes Event, same key
}

// delta is what one workflow's status has not seen yet.
type delta struct {
	skips       map[v1alpha1.SkipReason]*v1alpha1.SkipCount
	triggered   *time.Time
	rescheduled int64
	dropped     int64
	dateChanged *time.Time
}

func newSkipRecorder(c client.Client, live client.Reader, clk clock.WithTicker, rec events.EventRecorder, eventInterval time.Duration) *skipRecorder {
	return &skipRecorder{client: c, live: live, clock: clk, recorder: rec, eventInterval: eventInterval,
		pending: map[types.NamespacedName]*delta{}, lastEvents: map[string]time.Time{}, unreported: map[string]int64{}}
}

func (s *skipRecorder) deltaOf(key types.NamespacedName) *delta {
	d := s.pending[key]
	if d == nil {
		d = &delta{skips: map[v1alpha1.SkipReason]*v1alpha1.SkipCount{}}
		s.pending[key] = d
	}
	return d
}

// record counts one skip.
func (s *skipRecorder) record(sk recordedSkip) {
	now := metav1.NewTime(s.clock.Now())
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.deltaOf(workflowKey(sk.workflow))
	c := d.skips[sk.reason]
	if c == nil {
		c = &v1alpha1.SkipCount{Reason: sk.reason}
		d.skips[sk.reason] = c
	}
	c.Count++
	c.LastTime = &now
	c.LastMessage = truncate(sk.message, 1024)
}

// triggered notes an enrollment for lastTriggeredTime.
func (s *skipRecorder) triggered(wf *v1alpha1.Workflow, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.deltaOf(workflowKey(wf))
	if d.triggered == nil || at.After(*d.triggered) {
		d.triggered = &at
	}
}

// dateRun notes a pending date run rescheduled (or dropped).
func (s *skipRecorder) dateRun(wf *v1alpha1.Workflow, rescheduled bool, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.deltaOf(workflowKey(wf))
	if rescheduled {
		d.rescheduled++
	} else {
		d.dropped++
	}
	d.dateChanged = &at
}

// run flushes every interval until ctx ends, then once more.
func (s *skipRecorder) run(ctx context.Context, interval time.Duration) {
	t := s.clock.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			s.flush(flushCtx)
			cancel()
			return
		case <-t.C():
			s.flush(ctx)
		}
	}
}

// flush writes every pending delta; a delta that fails is kept for the next flush.
func (s *skipRecorder) flush(ctx context.Context) {
	s.mu.Lock()
	pending := s.pending
	s.pending = map[types.NamespacedName]*delta{}
	s.mu.Unlock()
	for key, d := range pending {
		wf, err := s.write(ctx, key, d)
		if err != nil {
			log.FromContext(ctx).Info("could not write skip counters; will retry", "workflow", key.String(), "error", err.Error())
			s.requeue(key, d)
			continue
		}
		if wf != nil {
			s.emitEvents(wf, d)
		}
	}
}

// write merges d into the workflow's status with optimistic concurrency.
func (s *skipRecorder) write(ctx context.Context, key types.NamespacedName, d *delta) (*v1alpha1.Workflow, error) {
	for range slotAttempts {
		wf := &v1alpha1.Workflow{}
		if err := s.live.Get(ctx, key, wf); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, nil // deleted: nothing to count on
			}
			return nil, fmt.Errorf("read workflow: %w", err)
		}
		next := wf.DeepCopy()
		next.Status.SkippedEvents = mergeSkips(wf.Status.SkippedEvents, d.skips)
		if d.triggered != nil && (wf.Status.LastTriggeredTime == nil || d.triggered.After(wf.Status.LastTriggeredTime.Time)) {
			t := metav1.NewTime(*d.triggered)
			next.Status.LastTriggeredTime = &t
		}
		if d.rescheduled > 0 || d.dropped > 0 {
			if next.Status.DateRuns == nil {
				next.Status.DateRuns = &v1alpha1.DateRunCounts{}
			}
			next.Status.DateRuns.Rescheduled += d.rescheduled
			next.Status.DateRuns.Dropped += d.dropped
			t := metav1.NewTime(*d.dateChanged)
			next.Status.DateRuns.LastTime = &t
		}
		err := s.client.Status().Patch(ctx, next, client.MergeFromWithOptions(wf, client.MergeFromWithOptimisticLock{}))
		switch {
		case err == nil:
			return next, nil
		case apierrors.IsNotFound(err):
			return nil, nil
		case !apierrors.IsConflict(err):
			return nil, fmt.Errorf("patch workflow status: %w", err)
		}
	}
	return nil, fmt.Errorf("workflow status kept changing")
}

// mergeSkips adds the counts of delta to the status list, sorted by reason.
func mergeSkips(current []v1alpha1.SkipCount, add map[v1alpha1.SkipReason]*v1alpha1.SkipCount) []v1alpha1.SkipCount {
	byReason := map[v1alpha1.SkipReason]v1alpha1.SkipCount{}
	for _, c := range current {
		byReason[c.Reason] = *c.DeepCopy()
	}
	for reason, c := range add {
		m := byReason[reason]
		m.Reason = reason
		m.Count += c.Count
		m.LastTime, m.LastMessage = c.LastTime, c.LastMessage
		byReason[reason] = m
	}
	out := make([]v1alpha1.SkipCount, 0, len(byReason))
	for _, c := range byReason {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Reason < out[j].Reason })
	return out
}

// requeue puts an unwritten delta back, merged with anything newer.
func (s *skipRecorder) requeue(key types.NamespacedName, d *delta) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.deltaOf(key)
	for reason, c := range d.skips {
		if m := cur.skips[reason]; m != nil {
			m.Count += c.Count
		} else {
			cur.skips[reason] = c
		}
	}
	if d.triggered != nil && (cur.triggered == nil || d.triggered.After(*cur.triggered)) {
		cur.triggered = d.triggered
	}
	cur.rescheduled += d.rescheduled
	cur.dropped += d.dropped
	if d.dateChanged != nil && (cur.dateChanged == nil || d.dateChanged.After(*cur.dateChanged)) {
		cur.dateChanged = d.dateChanged
	}
}

// emitEvents records at most one Kubernetes Event per reason per interval;
// skips in between are summed into the next one.
func (s *skipRecorder) emitEvents(wf *v1alpha1.Workflow, d *delta) {
	if s.recorder == nil {
		return
	}
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for reason, c := range d.skips {
		key := wf.Namespace + "/" + wf.Name + "/" + reason.String()
		s.unreported[key] += c.Count
		if last, ok := s.lastEvents[key]; ok && now.Sub(last) < s.eventInterval {
			continue // told in a later Event, summed
		}
		s.lastEvents[key] = now
		s.recorder.Eventf(wf, nil, corev1.EventTypeNormal, "Skipped"+reason.String(), "Enroll",
			"%d event(s) did not enroll (%s); latest: %s", s.unreported[key], reason, c.LastMessage)
		delete(s.unreported, key)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
