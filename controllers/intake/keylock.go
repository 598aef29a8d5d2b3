package intake

import (
	"hash/fnv"
	"sync"
)

// keyLocks serialises the enrollments of one (workflow, subject) within this
// process, so a burst for one subject costs one slot race per replica, not
// one per event. Correctness across replicas comes from the API server (see
// slot.go); this is only an economy. Keys share 256 stripes.
type keyLocks struct {
	stripes [256]sync.Mutex
}

// lock locks key's stripe and returns the unlock function.
func (k *keyLocks) lock(key string) func() {
	h := fnv.New32a()
	h.Write([]byte(key))
	m := &k.stripes[h.Sum32()%uint32(len(k.stripes))]
	m.Lock()
	return m.Unlock
}
