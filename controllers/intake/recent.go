package intake

import (
	"strings"
	"sync"
	"time"

	"github.com/crmflow/crmflow/runner"
)

// recentKey names a memory slot: the namespace and then the parts (a
// workflow and a subject, or a subject alone). Workflow names are unique
// only within a namespace, and the receiver serves every namespace.
func recentKey(ns string, parts ...string) string {
	return ns + "/" + strings.Join(parts, "/")
}

// recentWindow is longer than any cache lag seen on a loaded API server.
const recentWindow = 30 * time.Second

// window remembers values per key for recentWindow: the runs this receiver
// created, for the moment before the informer cache shows them. Expired
// entries are pruned as new ones are added, so it holds at most a window's
// worth of creations.
type window[T any] struct {
	mu        sync.Mutex
	byKey     map[string][]stamped[T]
	lastPrune time.Time
}

type stamped[T any] struct {
	v  T
	at time.Time
}

func (w *window[T]) put(key string, v T, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.byKey == nil {
		w.byKey = map[string][]stamped[T]{}
	}
	if now.Sub(w.lastPrune) >= recentWindow/6 {
		for k := range w.byKey {
			w.keepLocked(k, func(e stamped[T]) bool { return now.Sub(e.at) < recentWindow })
		}
		w.lastPrune = now
	}
	w.byKey[key] = append(w.byKey[key], stamped[T]{v: v, at: now})
}

// values are key's values within the window that match (all when match is nil).
func (w *window[T]) values(key string, now time.Time, match func(T) bool) []T {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []T
	for _, e := range w.byKey[key] {
		if now.Sub(e.at) < recentWindow && (match == nil || match(e.v)) {
			out = append(out, e.v)
		}
	}
	return out
}

// drop removes key's values that gone reports.
func (w *window[T]) drop(key string, gone func(T) bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.keepLocked(key, func(e stamped[T]) bool { return !gone(e.v) })
}

// keepLocked keeps key's entries that keep reports; called with the lock held.
func (w *window[T]) keepLocked(key string, keep func(stamped[T]) bool) {
	entries, ok := w.byKey[key]
	if !ok {
		return
	}
	kept := entries[:0]
	for _, e := range entries {
		if keep(e) {
			kept = append(kept, e)
		}
	}
	if len(kept) == 0 {
		delete(w.byKey, key)
	} else {
		w.byKey[key] = kept
	}
}

// recentRuns remembers the runs this receiver created per workflow and
// subject, for the workflows whose enrollment policy or date trigger looks
// at a subject's other runs. The informer cache shows a new run a moment
// after its create returns. Until it does, a second event for the subject
// must still find the run: to move it (a date trigger), or to be refused
// while it is active (Forbid, AfterExit, Never). The per-subject lock makes
// that exact within one replica; across replicas the run controller's
// admission decides.
type recentRuns struct{ w window[runner.Candidate] }

func (c *recentRuns) add(key string, run runner.Candidate, now time.Time) { c.w.put(key, run, now) }

// candidates are the runs created for key within the window.
func (c *recentRuns) candidates(key string, now time.Time) []runner.Candidate {
	return c.w.values(key, now, nil)
}

// forget drops key's runs that the cache shows now: the memory only covers
// the moment before it does. A run kept past that would outlive its time in
// etcd too, and be read live for nothing once archived and deleted.
func (c *recentRuns) forget(key string, cached map[string]bool) {
	if len(cached) > 0 {
		c.w.drop(key, func(r runner.Candidate) bool { return cached[r.Name] })
	}
}

// names are the names of candidates(key, now).
func (c *recentRuns) names(key string, now time.Time) []string {
	var out []string
	for _, r := range c.candidates(key, now) {
		out = append(out, r.Name)
	}
	return out
}
