package console

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// sessionCookie holds the signed-in person's bearer token in pass-through
// mode (HttpOnly, SameSite=Strict, Path=/api): the browser sends it back,
// scripts cannot read it, other sites cannot make the browser send it.
const sessionCookie = "crmflow_session"

// errSignIn means a pass-through request carried no token.
var errSignIn = errors.New("sign in with a Kubernetes bearer token")

// identityTTL is how long the in-cluster console trusts a token the API
// server accepted before it asks again; calls that reach the API server
// carry the token, which the API server checks on each of them anyway.
const identityTTL = 10 * time.Second

// maxIdentities bounds the cache of accepted tokens; a full cache is emptied
// rather than grown.
const maxIdentities = 4096

// identity gives the Kubernetes client to use for one request.
type identity interface {
	// clientFor returns the client acting as the person behind r, without
	// checking that the API server accepts their token.
	clientFor(r *http.Request) (client.Client, error)
	// authenticate establishes who is behind r (errSignIn, or an *apiError
	// of 401, when nobody is) and returns the client acting as them.
	authenticate(r *http.Request) (client.Client, error)
	// passThrough is true when each person brings their own token.
	passThrough() bool
}

// fixedIdentity is `kubectl crmflow ui`: one client, the kubeconfig's identity.
type fixedIdentity struct{ c client.Client }

func (f fixedIdentity) clientFor(*http.Request) (client.Client, error)    { return f.c, nil }
func (f fixedIdentity) authenticate(*http.Request) (client.Client, error) { return f.c, nil }
func (fixedIdentity) passThrough() bool                                   { return false }

// tokenIdentity is the in-cluster console: a fresh client per request built
// from the API server's address and CA only, plus the person's token (from
// the Authorization header an authenticating proxy sets, else the session
// cookie). Client-go caches TLS transports by TLS settings, not by token, so
// a client per request costs no new connection.
type tokenIdentity struct {
	base   *rest.Config // anonymous: host and CA, no credentials
	scheme *runtime.Scheme
	mapper meta.RESTMapper
	clock  clock.PassiveClock
	log    logr.Logger

	mu       sync.Mutex
	accepted map[[32]byte]time.Time // sha256 of a token the API server accepted -> until when it is trusted
}

func newTokenIdentity(cfg *rest.Config, scheme *runtime.Scheme, clk clock.PassiveClock, log logr.Logger) *tokenIdentity {
	return &tokenIdentity{base: rest.AnonymousClientConfig(cfg), scheme: scheme, mapper: staticMapper(), clock: clk, log: log,
		accepted: map[[32]byte]time.Time{}}
}

func (t *tokenIdentity) passThrough() bool { return true }

func (t *tokenIdentity) clientFor(r *http.Request) (client.Client, error) {
	token := bearerToken(r)
	if token == "" {
		return nil, errSignIn
	}
	cfg := rest.CopyConfig(t.base)
	cfg.BearerToken = token
	c, err := client.New(cfg, client.Options{Scheme: t.scheme, Mapper: t.mapper})
	if err != nil {
		return nil, fmt.Errorf("client for the signed-in person: %w", err)
	}
	return c, nil
}

// authenticate proves the request's token with a SelfSubjectReview made
// with it (so no right of the manager is used), and remembers a token the
// API server accepted for identityTTL. A token the API server refuses gets
// 401; 403 means the API server knows the person (it authenticated them)
// but their RBAC does not allow the review, which is enough here.
func (t *tokenIdentity) authenticate(r *http.Request) (client.Client, error) {
	c, err := t.clientFor(r)
	if err != nil {
		return nil, err
	}
	key := sha256.Sum256([]byte(bearerToken(r)))
	now := t.clock.Now()
	t.mu.Lock()
	until, hit := t.accepted[key]
	t.mu.Unlock()
	if hit && now.Before(until) {
		return c, nil
	}
	if _, err := whoAmI(r.Context(), c); err != nil && !apierrors.IsForbidden(err) {
		if apierrors.IsUnauthorized(err) {
			return nil, &apiError{status: http.StatusUnauthorized, Reason: string(apierrors.ReasonForError(err)),
				Message: "the Kubernetes API server did not accept the token: sign in again"}
		}
		var se apierrors.APIStatus
		if errors.As(err, &se) {
			return nil, kubeError(err, "check the token")
		}
		t.log.Error(err, "check a console token")
		return nil, &apiError{status: http.StatusServiceUnavailable, Message: "cannot check the token with the Kubernetes API server; retry later"}
	}
	t.mu.Lock()
	if len(t.accepted) >= maxIdentities {
		clear(t.accepted)
	}
	t.accepted[key] = now.Add(identityTTL)
	t.mu.Unlock()
	return c, nil
}

// bearerToken is the request's token: an Authorization header with the
// Bearer scheme first (an authenticating proxy in front of the console; the
// scheme's name is case-insensitive, RFC 7235), then the session cookie.
func bearerToken(r *http.Request) string {
	if scheme, token, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " "); ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(token)
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		return c.Value
	}
	return ""
}

// staticMapper maps the few kinds the console touches without discovery, so
// a per-request client makes no discovery calls.
func staticMapper() meta.RESTMapper {
	m := meta.NewDefaultRESTMapper(nil)
	gv := v1alpha1.GroupVersion
	m.Add(gv.WithKind("Workflow"), meta.RESTScopeNamespace)
	m.Add(gv.WithKind("WorkflowList"), meta.RESTScopeNamespace)
	m.Add(gv.WithKind("WorkflowRun"), meta.RESTScopeNamespace)
	m.Add(gv.WithKind("WorkflowRunList"), meta.RESTScopeNamespace)
	core := schema.GroupVersion{Version: "v1"}
	m.Add(core.WithKind("Namespace"), meta.RESTScopeRoot)
	m.Add(core.WithKind("NamespaceList"), meta.RESTScopeRoot)
	m.Add(core.WithKind("Secret"), meta.RESTScopeNamespace)
	m.Add(core.WithKind("SecretList"), meta.RESTScopeNamespace)
	m.Add(schema.GroupVersion{Group: "authentication.k8s.io", Version: "v1"}.WithKind("SelfSubjectReview"), meta.RESTScopeRoot)
	return m
}
