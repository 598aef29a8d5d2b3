package console

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

const testToken = "0123456789abcdef0123456789abcdef0123456789a"

func mutating(mod func(r *http.Request)) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8089/api/namespaces/a/workflows/w/state", strings.NewReader(`{}`))
	r.AddCookie(&http.Cookie{Name: csrfCookie, Value: testToken})
	r.Header.Set(csrfHeader, testToken)
	if mod != nil {
		mod(r)
	}
	return r
}

func TestCheckCSRF(t *testing.T) {
	for name, tc := range map[string]struct {
		mod  func(r *http.Request)
		want string
	}{
		"matching token": {},
		"same-origin fetch": {mod: func(r *http.Request) {
			r.Header.Set("Origin", "http://127.0.0.1:8089")
			r.Header.Set("Sec-Fetch-Site", "same-origin")
		}},
		"no header":               {mod: func(r *http.Request) { r.Header.Del(csrfHeader) }, want: "CSRF"},
		"wrong header":            {mod: func(r *http.Request) { r.Header.Set(csrfHeader, strings.Repeat("x", len(testToken))) }, want: "CSRF"},
		"no cookie":               {mod: func(r *http.Request) { r.Header.Del("Cookie") }, want: "CSRF"},
		"another origin":          {mod: func(r *http.Request) { r.Header.Set("Origin", "https://evil.example") }, want: "another origin"},
		"cross-site fetch":        {mod: func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") }, want: "cross-site"},
		"same-site other subhost": {mod: func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "same-site") }, want: "cross-site"},
	} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			err := checkCSRF(mutating(tc.mod))
			if tc.want == "" {
				g.Expect(err).NotTo(HaveOccurred())
				return
			}
			var ae *apiError
			g.Expect(errors.As(err, &ae)).To(BeTrue())
			g.Expect(ae.status).To(Equal(http.StatusForbidden))
			g.Expect(ae.Message).To(ContainSubstring(tc.want))
		})
	}
}

func TestDecodeJSON(t *testing.T) {
	for name, tc := range map[string]struct {
		body   string
		status int
		want   string
	}{
		"valid":         {body: `{"state":"Active"}`},
		"not JSON":      {body: `{"state":`, status: http.StatusBadRequest, want: "not valid JSON"},
		"unknown field": {body: `{"stat":"Active"}`, status: http.StatusBadRequest, want: `unknown field "stat"`},
		"two values":    {body: `{"state":"Active"} {}`, status: http.StatusBadRequest, want: "more than one JSON value"},
		"too large":     {body: `{"state":"` + strings.Repeat("x", 2048) + `"}`, status: http.StatusRequestEntityTooLarge, want: "larger than 1 KiB; nothing was changed"},
	} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
			r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, 1024)
			var v stateRequest
			err := decodeJSON(r, &v)
			if tc.status == 0 {
				g.Expect(err).NotTo(HaveOccurred())
				return
			}
			var ae *apiError
			g.Expect(errors.As(err, &ae)).To(BeTrue())
			g.Expect(ae.status).To(Equal(tc.status))
			g.Expect(ae.Message).To(ContainSubstring(tc.want))
		})
	}
}

func TestJSONProblemPointsAtTheOffendingCharacter(t *testing.T) {
	g := NewWithT(t)
	text := "{\n  \"a\": 1,\n}"
	var v any
	err := json.Unmarshal([]byte(text), &v)
	g.Expect(jsonProblem(text, err)).To(HavePrefix("line 3, column 1: "))
}

func TestLookup(t *testing.T) {
	g := NewWithT(t)
	data := map[string]any{"contact": map[string]any{"tags": []any{"VIP"}, "address": map[string]any{"city": "Oslo"}}}
	v, ok := lookup(data, "contact.address.city")
	g.Expect(ok).To(BeTrue())
	g.Expect(v).To(Equal("Oslo"))
	_, ok = lookup(data, "contact.tags.first")
	g.Expect(ok).To(BeFalse())
	_, ok = lookup(data, "lead.source")
	g.Expect(ok).To(BeFalse())
}

func TestSecureHeadersAndHosts(t *testing.T) {
	g := NewWithT(t)
	s := &Server{opts: Options{AllowedHosts: []string{"127.0.0.1:8089"}, MaxBodyBytes: 16}}
	h := s.secure(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8089/", nil))
	g.Expect(rec.Code).To(Equal(http.StatusNoContent))
	g.Expect(rec.Header().Get("Content-Security-Policy")).To(And(ContainSubstring("default-src 'none'"), ContainSubstring("frame-ancestors 'none'")))
	g.Expect(rec.Header().Get("X-Frame-Options")).To(Equal("DENY"))

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://attacker.example/", nil))
	g.Expect(rec.Code).To(Equal(http.StatusMisdirectedRequest))

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, mutating(func(r *http.Request) { r.Header.Del(csrfHeader) }))
	g.Expect(rec.Code).To(Equal(http.StatusForbidden))
}
