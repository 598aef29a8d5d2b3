package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// contentSecurityPolicy allows only the console's own scripts, styles and
// API: no inline script or style, no other origin, no framing.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// CSRF: the session endpoint sets csrfCookie (HttpOnly, SameSite=Strict) and
// returns the same value in its body; every mutating call must echo it in
// csrfHeader. Another site can neither read the value nor set the header.
const (
	csrfCookie = "crmflow_csrf"
	csrfHeader = "X-CSRF-Token"
)

// secure wraps every response in the security headers, refuses foreign Host
// headers (DNS rebinding) and cross-site or token-less mutating calls, and
// caps request bodies.
func (s *Server) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if len(s.opts.AllowedHosts) > 0 && !slices.Contains(s.opts.AllowedHosts, r.Host) {
			writeError(w, &apiError{status: http.StatusMisdirectedRequest, Message: "this console only answers to " + strings.Join(s.opts.AllowedHosts, ", ")})
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if err := checkCSRF(r); err != nil {
				writeError(w, err)
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
		}
		next.ServeHTTP(w, r)
	})
}

// checkCSRF refuses a mutating request from another origin or without the
// session's CSRF token.
func checkCSRF(r *http.Request) error {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return &apiError{status: http.StatusForbidden, Message: "cross-site request refused"}
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || u.Host != r.Host {
			return &apiError{status: http.StatusForbidden, Message: "request from another origin refused"}
		}
	}
	c, err := r.Cookie(csrfCookie)
	got := r.Header.Get(csrfHeader)
	if err != nil || c.Value == "" || got == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(got)) != 1 {
		return &apiError{status: http.StatusForbidden, Message: "missing or wrong CSRF token: reload the page"}
	}
	return nil
}

// secureCookies is true when the browser reached us over HTTPS (directly or
// through a TLS-terminating proxy): cookies then never travel in clear.
func secureCookies(r *http.Request) bool {
	return r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"
}

// sessionInfo answers GET /api/session.
type sessionInfo struct {
	// CSRFToken must be sent as X-CSRF-Token on every mutating call.
	CSRFToken string `json:"csrfToken"`
	// Mode is "local" (kubeconfig identity) or "passThrough" (sign-in needed).
	Mode string `json:"mode"`
	// SignedIn is false when a pass-through console has no token for this browser.
	SignedIn bool `json:"signedIn"`
	// DefaultNamespace is where the app opens.
	DefaultNamespace string `json:"defaultNamespace"`
}

func (s *Server) session(w http.ResponseWriter, r *http.Request) error {
	token := ""
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) >= 32 {
		token = c.Value
	} else {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		token = base64.RawURLEncoding.EncodeToString(b)
		http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: token, Path: "/", HttpOnly: true,
			Secure: secureCookies(r), SameSite: http.SameSiteStrictMode})
	}
	info := sessionInfo{CSRFToken: token, Mode: "local", SignedIn: true, DefaultNamespace: s.opts.DefaultNamespace}
	if s.id.passThrough() {
		info.Mode, info.SignedIn = "passThrough", bearerToken(r) != ""
	}
	return writeJSON(w, http.StatusOK, info)
}

// loginRequest is the body of POST /api/login.
type loginRequest struct {
	// Token is a Kubernetes bearer token of the person signing in.
	Token string `json:"token"`
}

// login keeps the person's token in an HttpOnly cookie after the API server
// accepted it (a SelfSubjectReview made with it).
func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	if !s.id.passThrough() {
		return &apiError{status: http.StatusBadRequest, Message: "this console uses your kubeconfig; there is nothing to sign in to"}
	}
	var req loginRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	req.Token = strings.TrimSpace(req.Token)
	if req.Token == "" {
		return fieldError(http.StatusBadRequest, "token", "a bearer token is required")
	}
	r.Header.Set("Authorization", "Bearer "+req.Token)
	c, err := s.id.clientFor(r)
	if err != nil {
		return err
	}
	user, err := whoAmI(r.Context(), c)
	if err != nil {
		return kubeError(err, "")
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: req.Token, Path: "/api/", HttpOnly: true,
		Secure: secureCookies(r), SameSite: http.SameSiteStrictMode})
	return writeJSON(w, http.StatusOK, map[string]string{"user": user})
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/api/", MaxAge: -1, HttpOnly: true,
		Secure: secureCookies(r), SameSite: http.SameSiteStrictMode})
	return writeJSON(w, http.StatusOK, map[string]string{})
}
