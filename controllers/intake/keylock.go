package intake

import (
	"hash/fnv"
	"sync"
)

// keyLocks serialises the enrollments of one (workflow, subject) within this
// process: with the runs it just created (recent.go), a burst for one subject
// enrolls once per replica, not once per event. Across replicas the run
// controller's admission decides. Keys share 256 stripes.
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
