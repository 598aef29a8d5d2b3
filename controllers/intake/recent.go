package intake

import (
	"strings"
	"sync"
	"time"

	"github.com/crmflow/crmflow/runner"
)

// recentRuns remembers, for a short while, the runs this receiver created
// per workflow and subject, for the workflows whose enrollment policy or
// date trigger looks at a subject's other runs. The informer cache shows a
// new run a moment after its create returns. Until it does, a second event
// for the subject must still find the run: to move it (a date trigger), or
// to be refused while it is active (Forbid, AfterExit, Never). The
// per-subject lock makes that exact within one replica; across replicas the
// run controller's admission decides.
type recentRuns struct {
	mu        sync.Mutex
	byKey     map[string][]recentRun
	lastPrune time.Time
}

type recentRun struct {
	run runner.Candidate
	at  time.Time
}

// recentKey names a memory slot: the namespace and then the parts (a
// workflow and a subject, or a subject alone). Workflow names are unique
// only within a namespace, and the receiver serves every namespace.
func recentKey(ns string, parts ...string) string {
	return ns + "/" + strings.Join(parts, "/")
}

// recentWindow is longer than any cache lag seen on a loaded API server.
const recentWindow = 30 * time.Second

func (c *recentRuns) add(key string, run runner.Candidate, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byKey == nil {
		c.byKey = map[string][]recentRun{}
	}
	if now.Sub(c.lastPrune) >= recentWindow/6 {
		c.prune(now)
		c.lastPrune = now
	}
	c.byKey[key] = append(c.byKey[key], recentRun{run: run, at: now})
}

// candidates are the runs created for key within the window.
func (c *recentRuns) candidates(key string, now time.Time) []runner.Candidate {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []runner.Candidate
	for _, r := range c.byKey[key] {
		if now.Sub(r.at) < recentWindow {
			out = append(out, r.run)
		}
	}
	return out
}

// forget drops key's runs that the cache shows now: the memory only covers
// the moment before it does. A run kept past that would outlive its time in
// etcd too, and be read live for nothing once archived and deleted.
func (c *recentRuns) forget(key string, cached map[string]bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	runs, ok := c.byKey[key]
	if !ok {
		return
	}
	kept := runs[:0]
	for _, r := range runs {
		if !cached[r.run.Name] {
			kept = append(kept, r)
		}
	}
	if len(kept) == 0 {
		delete(c.byKey, key)
	} else {
		c.byKey[key] = kept
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

// prune drops expired entries; called with the lock held.
func (c *recentRuns) prune(now time.Time) {
	for k, runs := range c.byKey {
		kept := runs[:0]
		for _, r := range runs {
			if now.Sub(r.at) < recentWindow {
				kept = append(kept, r)
			}
		}
		if len(kept) == 0 {
			delete(c.byKey, k)
		} else {
			c.byKey[k] = kept
		}
	}
}
