package request

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/utils/clock"
)

// Names of the per-namespace credential: a Secret named SecretName in the
// namespace the events are posted to, with one or both of the keys.
const (
	// SecretName is the Secret intake reads in each namespace.
	SecretName = "crmflow-intake"
	// TokenKey holds a bearer token: "Authorization: Bearer <token>".
	TokenKey = "token"
	// HMACKey holds an HMAC-SHA256 key that signs the request (see SignRequest).
	HMACKey = "hmacKey"
	// SignatureHeader carries the request's signature: "v1=<hex HMAC-SHA256>".
	SignatureHeader = "X-Crmflow-Signature"
	// TimestampHeader carries the signing time in Unix seconds; it is part
	// of the signed text, and a stale one is refused.
	TimestampHeader = "X-Crmflow-Timestamp"
	// SignatureVersion prefixes the signature value and starts the signed text.
	SignatureVersion = "v1"
)

// DefaultSignatureTolerance is how far a signed request's timestamp may be
// from the receiver's clock, either way (Stripe's default).
const DefaultSignatureTolerance = 5 * time.Minute

// Credentials are a namespace's configured credentials; the zero value
// requires none.
type Credentials struct {
	// Token, when set, is accepted as a bearer token.
	Token []byte
	// HMACKey, when set, signs requests; a valid, fresh signature is accepted.
	HMACKey []byte
	// Unusable, when set, refuses every request with this message: the
	// namespace's credential exists but cannot be used (fail closed).
	Unusable string
	// Unknown refuses every request exactly as a protected namespace refuses
	// a missing or wrong credential, so that an unauthenticated caller does
	// not learn whether the namespace exists.
	Unknown bool
	// Clock reads the time that signature timestamps are checked against
	// (nil: the real clock).
	Clock clock.PassiveClock
	// Tolerance is how far a signature's timestamp may be from now, either
	// way (0: DefaultSignatureTolerance).
	Tolerance time.Duration
}

// Required reports whether requests must present a credential.
func (c Credentials) Required() bool {
	return len(c.Token) > 0 || len(c.HMACKey) > 0 || c.Unusable != "" || c.Unknown
}

// Presented reports whether the request carries a credential at all, so a
// missing one (401) is told apart from a wrong one (403) before the body is read.
func Presented(h http.Header) bool {
	return h.Get("Authorization") != "" || h.Get(SignatureHeader) != ""
}

// Verify accepts the request when the namespace requires no credential, or
// when a presented credential matches one the namespace configured: the
// bearer token, or a fresh signature of the request's CloudEvents attribute
// headers and body. Comparisons are constant-time.
func (c Credentials) Verify(h http.Header, body []byte) error {
	if !c.Required() {
		return nil
	}
	if c.Unusable != "" {
		status := http.StatusForbidden
		if !Presented(h) {
			status = http.StatusUnauthorized
		}
		return errorf(status, "%s", c.Unusable)
	}
	if !Presented(h) {
		return errorf(http.StatusUnauthorized, "this namespace requires a credential: send %s", describe())
	}
	if c.Unknown {
		return errorf(http.StatusForbidden, "credential rejected: expected %s", describe())
	}
	if auth := h.Get("Authorization"); auth != "" && len(c.Token) > 0 {
		// RFC 9110 §11.1: the auth-scheme is case-insensitive.
		scheme, token, _ := strings.Cut(strings.TrimSpace(auth), " ")
		if strings.EqualFold(scheme, "Bearer") &&
			subtle.ConstantTimeCompare([]byte(strings.TrimSpace(token)), c.Token) == 1 {
			return nil
		}
	}
	if sig := h.Get(SignatureHeader); sig != "" && len(c.HMACKey) > 0 {
		return c.verifySignature(h, sig, body)
	}
	return errorf(http.StatusForbidden, "credential rejected: expected %s", describe())
}

func (c Credentials) verifySignature(h http.Header, sig string, body []byte) error {
	hexSig, ok := strings.CutPrefix(strings.TrimSpace(sig), SignatureVersion+"=")
	if !ok {
		if strings.HasPrefix(sig, "sha256=") {
			return errorf(http.StatusForbidden,
				"%s: the body-only form sha256=<hex> is no longer accepted because it can be replayed with other attributes; sign %s (docs/intake.md, or kubectl crmflow send --hmac-key)",
				SignatureHeader, describeSignature())
		}
		return errorf(http.StatusForbidden, "%s must have the form %s=<hex>", SignatureHeader, SignatureVersion)
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return errorf(http.StatusForbidden, "%s is not hexadecimal", SignatureHeader)
	}
	rawTS := strings.TrimSpace(h.Get(TimestampHeader))
	if rawTS == "" {
		return errorf(http.StatusForbidden, "missing %s: a signed request carries its signing time in Unix seconds", TimestampHeader)
	}
	secs, err := strconv.ParseInt(rawTS, 10, 64)
	if err != nil {
		return errorf(http.StatusForbidden, "%s %q is not Unix seconds", TimestampHeader, rawTS)
	}
	now := c.now()
	tol := c.Tolerance
	if tol <= 0 {
		tol = DefaultSignatureTolerance
	}
	ts := time.Unix(secs, 0)
	if skew := now.Sub(ts); skew > tol || skew < -tol {
		return errorf(http.StatusForbidden,
			"%s %d is %s away from the receiver's clock; the tolerance is %s: sign each request when it is sent (and keep clocks in sync)",
			TimestampHeader, secs, skew.Abs().Round(time.Second), tol)
	}
	if !hmac.Equal(got, signature(c.HMACKey, rawTS, h, body)) {
		return errorf(http.StatusForbidden,
			"%s does not match the request: it must sign %s", SignatureHeader, describeSignature())
	}
	return nil
}

func (c Credentials) now() time.Time {
	if c.Clock == nil {
		return time.Now()
	}
	return c.Clock.Now()
}

// describe names the accepted credentials for error messages (never their
// values, nor which ones this namespace configured).
func describe() string {
	return "Authorization: Bearer <token>, or " + SignatureHeader + ": " + SignatureVersion + "=<hex> with " + TimestampHeader
}

func describeSignature() string {
	return "the timestamp, Content-Type, every ce-* header and the body (" + SignatureVersion + ")"
}

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

func signature(key []byte, timestamp string, h http.Header, body []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write(CanonicalRequest(timestamp, h, body))
	return mac.Sum(nil)
}

// SignRequest signs a request whose headers h are complete (Content-Type
// and every ce-* header set): it sets X-Crmflow-Timestamp to at and
// X-Crmflow-Signature to v1=<hex HMAC-SHA256 of CanonicalRequest>. For
// senders and tests; sign last, after every header is set.
func SignRequest(key []byte, at time.Time, h http.Header, body []byte) {
	ts := strconv.FormatInt(at.Unix(), 10)
	h.Set(TimestampHeader, ts)
	h.Set(SignatureHeader, SignatureVersion+"="+hex.EncodeToString(signature(key, ts, h, body)))
}
