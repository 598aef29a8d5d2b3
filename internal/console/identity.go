package console

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// sessionCookie holds the signed-in person's bearer token in pass-through
// mode (HttpOnly, SameSite=Strict, Path=/api): the browser sends it back,
// scripts cannot read it, other sites cannot make the browser send it.
const sessionCookie = "crmflow_session"

// errSignIn means a pass-through request carried no token.
var errSignIn = errors.New("sign in with a Kubernetes bearer token")

// identity gives the Kubernetes client to use for one request.
type identity interface {
	// clientFor returns the client acting as the person behind r.
	clientFor(r *http.Request) (client.Client, error)
	// passThrough is true when each person brings their own token.
	passThrough() bool
}

// fixedIdentity is `kubectl crmflow ui`: one client, the kubeconfig's identity.
type fixedIdentity struct{ c client.Client }

func (f fixedIdentity) clientFor(*http.Request) (client.Client, error) { return f.c, nil }
func (fixedIdentity) passThrough() bool                                { return false }

// tokenIdentity is the in-cluster console: a fresh client per request built
// from the API server's address and CA only, plus the person's token (from
// the Authorization header an authenticating proxy sets, else the session
// cookie). Client-go caches TLS transports by TLS settings, not by token, so
// a client per request costs no new connection.
type tokenIdentity struct {
	base   *rest.Config // anonymous: host and CA, no credentials
	scheme *runtime.Scheme
	mapper meta.RESTMapper
}

func newTokenIdentity(cfg *rest.Config, scheme *runtime.Scheme) *tokenIdentity {
	return &tokenIdentity{base: rest.AnonymousClientConfig(cfg), scheme: scheme, mapper: staticMapper()}
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

// bearerToken is the request's token: an Authorization header first (an
// authenticating proxy in front of the console), then the session cookie.
func bearerToken(r *http.Request) string {
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		return strings.TrimSpace(strings.TrimPrefix(h, "Bearer "))
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
