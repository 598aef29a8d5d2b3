package request

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
)

// Names of the per-namespace credential: a Secret named SecretName in the
// namespace the events are posted to, with one or both of the keys.
const (
	// SecretName is the Secret intake reads in each namespace.
	SecretName = "crmflow-intake"
	// TokenKey holds a bearer token: "Authorization: Bearer <token>".
	TokenKey = "token"
	// HMACKey holds an HMAC-SHA256 key: "X-Crmflow-Signature: sha256=<hex of HMAC(body)>".
	HMACKey = "hmacKey"
	// SignatureHeader carries the body's HMAC-SHA256 signature.
	SignatureHeader = "X-Crmflow-Signature"
)

// Credentials are a namespace's configured credentials; the zero value
// requires none.
type Credentials struct {
	// Token, when set, is accepted as a bearer token.
	Token []byte
	// HMACKey, when set, signs the body; a valid signature is accepted.
	HMACKey []byte
}

// Required reports whether the namespace configured any credential.
func (c Credentials) Required() bool { return len(c.Token) > 0 || len(c.HMACKey) > 0 }

// Presented reports whether the request carries a credential at all, so a
// missing one (401) is told apart from a wrong one (403) before the body is read.
func Presented(h http.Header) bool {
	return h.Get("Authorization") != "" || h.Get(SignatureHeader) != ""
}

// Verify accepts the request when the namespace requires no credential, or
// when a presented credential matches one the namespace configured: the
// bearer token or the body signature. Comparisons are constant-time.
func (c Credentials) Verify(h http.Header, body []byte) error {
	if !c.Required() {
		return nil
	}
	if !Presented(h) {
		return errorf(http.StatusUnauthorized,
			"this namespace requires a credential: send %s", c.describe())
	}
	if auth := h.Get("Authorization"); auth != "" && len(c.Token) > 0 {
		token, ok := strings.CutPrefix(auth, "Bearer ")
		if ok && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(token)), c.Token) == 1 {
			return nil
		}
	}
	if sig := h.Get(SignatureHeader); sig != "" && len(c.HMACKey) > 0 {
		return c.verifySignature(sig, body)
	}
	return errorf(http.StatusForbidden, "credential rejected: expected %s", c.describe())
}

func (c Credentials) verifySignature(sig string, body []byte) error {
	hexSig, ok := strings.CutPrefix(sig, "sha256=")
	if !ok {
		return errorf(http.StatusForbidden, "%s must have the form sha256=<hex>", SignatureHeader)
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return errorf(http.StatusForbidden, "%s is not hexadecimal", SignatureHeader)
	}
	mac := hmac.New(sha256.New, c.HMACKey)
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return errorf(http.StatusForbidden, "%s does not match the body", SignatureHeader)
	}
	return nil
}

// describe names the accepted credentials for error messages (never their values).
func (c Credentials) describe() string {
	var ways []string
	if len(c.Token) > 0 {
		ways = append(ways, "Authorization: Bearer <token>")
	}
	if len(c.HMACKey) > 0 {
		ways = append(ways, SignatureHeader+": sha256=<hex HMAC-SHA256 of the body>")
	}
	return strings.Join(ways, " or ")
}

// Sign returns the X-Crmflow-Signature value of body under key, for senders and tests.
func Sign(key, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}
