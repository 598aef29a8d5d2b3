package intake

import (
	"slices"
	"time"
)

// listeningRuns remembers, for recentWindow, the runs this receiver created
// whose workflow listens to events after enrolling, by namespace and subject
// (recentKey), with the event types they may listen to. Delivery finds runs
// through the cache index of active runs by subject; until the cache shows
// a new run, an event for its subject (an exit goal right behind the event
// that enrolled) finds it here. A run leaves the memory as soon as the cache
// or a live read shows it, so only the moment of cache lag costs reads.
type listeningRuns struct{ w window[listeningRun] }

type listeningRun struct {
	name  string
	types []string // shared with the catalogue entry: read-only
}

func (c *listeningRuns) add(key, name string, types []string, now time.Time) {
	c.w.put(key, listeningRun{name: name, types: types}, now)
}

// unlisted are key's runs, created within the window, that listen to
// eventType and are not in listed (the runs the cache shows for key).
func (c *listeningRuns) unlisted(key, eventType string, listed map[string]bool, now time.Time) []string {
	var out []string
	for _, r := range c.w.values(key, now, func(r listeningRun) bool {
		return !listed[r.name] && slices.Contains(r.types, eventType)
	}) {
		out = append(out, r.name)
	}
	return out
}

// forget drops key's runs named in shown: the cache or the API server has
// shown them, so delivery no longer needs the memory to find them.
func (c *listeningRuns) forget(key string, shown map[string]bool) {
	if len(shown) > 0 {
		c.w.drop(key, func(r listeningRun) bool { return shown[r.name] })
	}
}
