package enrollment

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
)

// EventRunName is the name of the run that an event enrolls in a workflow
// (event and dateField triggers): the workflow's name and a hash of the
// event's source and id. A duplicate delivery of the event computes the same
// name, so its Create hits AlreadyExists and enrolls nobody twice.
func EventRunName(workflow, source, id string) string {
	const keep = 200 // well under the 253 characters of a DNS subdomain
	prefix := workflow
	if len(prefix) > keep {
		prefix = prefix[:keep]
	}
	return prefix + "-" + hashOf(workflow, source, id)[:16]
}

// TickRunName is the name of the run of a cron tick: "<workflow>-<tick in
// Unix seconds>", like a CronJob's Jobs, so that the tick's second Create
// (after a crash, or from a stale cache) hits AlreadyExists. A workflow name
// too long to leave room is shortened and made unique with a hash of the
// full name.
func TickRunName(workflow string, tick time.Time) string {
	suffix := "-" + strconv.FormatInt(tick.Unix(), 10)
	limit := validation.DNS1123SubdomainMaxLength - len(suffix)
	if len(workflow) > limit {
		sum := sha256.Sum256([]byte(workflow))
		h := hex.EncodeToString(sum[:])[:8]
		workflow = workflow[:limit-len(h)-1] + "-" + h
	}
	return workflow + suffix
}

// hashOf hashes parts unambiguously (each is followed by a NUL byte).
func hashOf(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
