package intake

import (
	"slices"
	"sync"
	"time"
)

// listeningRuns remembers, for recentWindow, the runs this receiver created
// whose workflow listens to events after enrolling, by namespace and subject
// (recentKey), with the event types they may listen to. Delivery finds runs
// through the cache index of active runs by subject; until the cache shows
// a new run, an event for its subject (an exit goal right behind the event
// that enrolled) finds it here. A run leaves the memory as soon as the cache
// or a live read shows it, so only the moment of cache lag costs reads.
type listeningRuns struct {
	mu        sync.Mutex
	byKey     map[string][]listeningRun
	lastPrune time.Time
}

type listeningRun struct {
	name  string
	types []string // shared with the catalogue entry: read-only
	at    time.Time
}

func (c *listeningRuns) add(key, name string, types []string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byKey == nil {
		c.byKey = map[string][]listeningRun{}
	}
	if now.Sub(c.lastPrune) >= recentWindow/6 {
		c.prune(now)
		c.lastPrune = now
	}
	c.byKey[key] = append(c.byKey[key], listeningRun{name: name, types: types, at: now})
}

// unlisted are key's runs, created within the window, that listen to
// eventType and are not in listed (the runs the cache shows for key).
func (c *listeningRuns) unlisted(key, eventType string, listed map[string]bool, now time.Time) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, r := range c.byKey[key] {
		if now.Sub(r.at) < recentWindow && !listed[r.name] && slices.Contains(r.types, eventType) {
			out = append(out, r.name)
		}
	}
	return out
}

// forget drops key's runs named in shown: the cache or the API server has
// shown them, so delivery no longer needs the memory to find them.
func (c *listeningRuns) forget(key string, shown map[string]bool) {
	if len(shown) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	runs, ok := c.byKey[key]
	if !ok {
		return
	}
	kept := runs[:0]
	for _, r := range runs {
		if !shown[r.name] {
			kept = append(kept, r)
		}
	}
	if len(kept) == 0 {
		delete(c.byKey, key)
	} else {
		c.byKey[key] = kept
	}
}

// prune drops expired entries; called with the lock held.
func (c *listeningRuns) prune(now time.Time) {
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
