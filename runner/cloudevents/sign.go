package cloudevents

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The v1 request signature (docs/intake.md): an HMAC-SHA256 over the signing
// time, the Content-Type, every ce-* header and the body.
const (
	// SignatureHeader carries the request's signature: "v1=<hex HMAC-SHA256>".
	SignatureHeader = "X-Crmflow-Signature"
	// TimestampHeader carries the signing time in Unix seconds; it is part
	// of the signed text, so a receiver can refuse a stale one.
	TimestampHeader = "X-Crmflow-Timestamp"
	// SignatureVersion prefixes the signature value and starts the signed text.
	SignatureVersion = "v1"
)

// CanonicalRequest is the text a signature covers:
//
//	v1\n<timestamp>\ncontent-type:<Content-Type>\n<ce-header>:<value>\n…\n\n<body>
//
// The ce-* headers are every header whose name starts with "ce-" (the
// binary-mode attributes ce-id, ce-source, ce-type, ce-subject, ce-time and
// every extension such as ce-crmflowhops), lower-cased, sorted by name, each
// value trimmed of surrounding spaces, several values of one name joined by
// ",". In structured and batched mode the attributes are in the body, which
// the signature covers byte for byte.
func CanonicalRequest(timestamp string, h http.Header, body []byte) []byte {
	names := make([]string, 0, len(h))
	values := map[string][]string{}
	for k, vs := range h {
		lk := strings.ToLower(k)
		if !strings.HasPrefix(lk, "ce-") {
			continue
		}
		if _, seen := values[lk]; !seen {
			names = append(names, lk)
		}
		for _, v := range vs {
			values[lk] = append(values[lk], strings.TrimSpace(v))
		}
	}
	sort.Strings(names)
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n%s\ncontent-type:%s\n", SignatureVersion, timestamp, strings.TrimSpace(h.Get("Content-Type")))
	for _, n := range names {
		fmt.Fprintf(&b, "%s:%s\n", n, strings.Join(values[n], ","))
	}
	b.WriteString("\n")
	out := make([]byte, 0, b.Len()+len(body))
	out = append(out, b.String()...)
	return append(out, body...)
}

// Signature is the HMAC-SHA256 with key of CanonicalRequest(timestamp, h, body).
// A receiver compares it with hmac.Equal.
func Signature(key []byte, timestamp string, h http.Header, body []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write(CanonicalRequest(timestamp, h, body))
	return mac.Sum(nil)
}

// Sign signs a request whose headers h are complete (Content-Type and every
// ce-* header set): it sets X-Crmflow-Timestamp to at and X-Crmflow-Signature
// to v1=<hex Signature>. Sign last, after every header is set.
func Sign(key []byte, at time.Time, h http.Header, body []byte) {
	ts := strconv.FormatInt(at.Unix(), 10)
	h.Set(TimestampHeader, ts)
	h.Set(SignatureHeader, SignatureVersion+"="+hex.EncodeToString(Signature(key, ts, h, body)))
}
