package request

import (
	"crypto/hmac"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"

	"k8s.io/utils/clock"

	"github.com/crmflow/crmflow/runner/cloudevents"
)

// Names of the per-namespace credential: a Secret named SecretName in the
// namespace the events are posted to, with one or both of the keys.
const (
	// SecretName is the Secret intake reads in each namespace.
	SecretName = "crmflow-intake"
	// TokenKey holds a bearer token: "Authorization: Bearer <token>".
	TokenKey = "token"
	// HMACKey holds an HMAC-SHA256 key that signs the request (see cloudevents.Sign).
	HMACKey = "hmacKey"
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
	// Namespace names the namespace in refusals. They read the same whether
	// it is protected or does not exist ("does not exist or requires a
	// credential"), so they stay true for a misspelt namespace without
	// telling which of the two it is.
	Namespace string
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
	return h.Get("Authorization") != "" || h.Get(cloudevents.SignatureHeader) != ""
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
		return errorf(http.StatusUnauthorized, "%s does not exist or requires a credential: send %s", c.namespace(), describe())
	}
	if c.Unknown {
		return c.rejected()
	}
	if auth := h.Get("Authorization"); auth != "" && len(c.Token) > 0 {
		// RFC 9110 §11.1: the auth-scheme is case-insensitive.
		scheme, token, _ := strings.Cut(strings.TrimSpace(auth), " ")
		if strings.EqualFold(scheme, "Bearer") &&
			subtle.ConstantTimeCompare([]byte(strings.TrimSpace(token)), c.Token) == 1 {
			return nil
		}
	}
	if sig := h.Get(cloudevents.SignatureHeader); sig != "" && len(c.HMACKey) > 0 {
		return c.verifySignature(h, sig, body)
	}
	return c.rejected()
}

// rejected refuses a presented credential that matches none configured, or
// any credential for a namespace that does not exist: the same words for
// both, so the answer does not tell them apart.
func (c Credentials) rejected() error {
	return errorf(http.StatusForbidden, "credential rejected: %s does not exist or does not accept this credential: expected %s", c.namespace(), describe())
}

func (c Credentials) namespace() string {
	if c.Namespace == "" {
		return "the namespace"
	}
	return "namespace " + strconv.Quote(c.Namespace)
}

func (c Credentials) verifySignature(h http.Header, sig string, body []byte) error {
	hexSig, ok := strings.CutPrefix(strings.TrimSpace(sig), cloudevents.SignatureVersion+"=")
	if !ok {
		if strings.HasPrefix(sig, "sha256=") {
			return errorf(http.StatusForbidden,
				"%s: the body-only form sha256=<hex> is no longer accepted because it can be replayed with other attributes; sign %s (docs/intake.md, or kubectl crmflow send --hmac-key)",
				cloudevents.SignatureHeader, describeSignature())
		}
		return errorf(http.StatusForbidden, "%s must have the form %s=<hex>", cloudevents.SignatureHeader, cloudevents.SignatureVersion)
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return errorf(http.StatusForbidden, "%s is not hexadecimal", cloudevents.SignatureHeader)
	}
	rawTS := strings.TrimSpace(h.Get(cloudevents.TimestampHeader))
	if rawTS == "" {
		return errorf(http.StatusForbidden, "missing %s: a signed request carries its signing time in Unix seconds", cloudevents.TimestampHeader)
	}
	secs, err := strconv.ParseInt(rawTS, 10, 64)
	if err != nil {
		return errorf(http.StatusForbidden, "%s %q is not Unix seconds", cloudevents.TimestampHeader, rawTS)
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
			cloudevents.TimestampHeader, secs, skew.Abs().Round(time.Second), tol)
	}
	if !hmac.Equal(got, cloudevents.Signature(c.HMACKey, rawTS, h, body)) {
		return errorf(http.StatusForbidden,
			"%s does not match the request: it must sign %s", cloudevents.SignatureHeader, describeSignature())
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
	return "Authorization: Bearer <token>, or " + cloudevents.SignatureHeader + ": " + cloudevents.SignatureVersion + "=<hex> with " + cloudevents.TimestampHeader
}

func describeSignature() string {
	return "the timestamp, Content-Type, every ce-* header and the body (" + cloudevents.SignatureVersion + ")"
}
