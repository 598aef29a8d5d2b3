package intake

import (
	"crypto/sha256"
	"encoding/hex"

	"k8s.io/apimachinery/pkg/util/validation"
)

// RunName is the name of the run that an event enrols in a workflow: the
// workflow's name and a hash of the event's source and id. A duplicate
// delivery of the event computes the same name, so its Create hits
// AlreadyExists and enrols nobody twice.
func RunName(workflow, source, id string) string {
	return shortName(workflow, hashOf(workflow, source, id))
}

// slotName is the name of the Lease that holds the enrolment slot of one
// subject in one workflow.
func slotName(workflow, subject string) string {
	return shortName("crmflow-slot-"+workflow, hashOf(workflow, subject))
}

// labelValue returns name when it is a valid label value, else a hash-suffixed prefix of it.
func labelValue(name string) string {
	if len(validation.IsValidLabelValue(name)) == 0 {
		return name
	}
	return shortLabel(name)
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

func shortLabel(name string) string {
	p := name
	if len(p) > 40 {
		p = p[:40]
	}
	v := p + "-" + hashOf(name)[:16]
	// A label value must begin and end alphanumeric; the hash ends so, and
	// trimming non-alphanumerics at the start keeps it valid.
	for len(v) > 0 && !isAlnum(v[0]) {
		v = v[1:]
	}
	return v
}

func isAlnum(b byte) bool {
	return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9')
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
