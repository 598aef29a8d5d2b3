package intake

import (
	"crypto/sha256"
	"encoding/hex"
)

// RunName is the name of the run that an event enrols in a workflow: the
// workflow's name and a hash of the event's source and id. A duplicate
// delivery of the event computes the same name, so its Create hits
// AlreadyExists and enrols nobody twice.
func RunName(workflow, source, id string) string {
	return shortName(workflow, hashOf(workflow, source, id))
}

// shortName joins a prefix (truncated) and the first 16 hex digits of a hash
// into a DNS-subdomain name well under 253 characters.
func shortName(prefix, hash string) string {
	const keep = 200
	if len(prefix) > keep {
		prefix = prefix[:keep]
	}
	return prefix + "-" + hash[:16]
}

// hashOf hashes parts unambiguously (each is length-prefixed by a NUL separator).
func hashOf(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
