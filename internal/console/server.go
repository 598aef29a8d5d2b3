package console

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/runner"
)

// Defaults of Options.
const (
	// DefaultMaxBodyBytes caps a request body (a pasted workflow or sample
	// event); larger bodies get 413 and change nothing.
	DefaultMaxBodyBytes = 1 << 20
	// DefaultRunsPageSize is the runs page's size when the browser asks for none.
	DefaultRunsPageSize = 50
	// MaxRunsPageSize caps the runs page's size.
	MaxRunsPageSize = 200
)

// Options configure a console Server.
type Options struct {
	// Addr is the TCP address to listen on, e.g. "127.0.0.1:8089".
	Addr string
	// Listener, when set, is used instead of listening on Addr.
	Listener net.Listener
	// Scheme knows the Kubernetes and crmflow types. Required.
	Scheme *runtime.Scheme
	// Engine compiles workflows and computes Test plans (nothing is sent). Required.
	Engine *runner.Engine
	// Clock is the time source of Test plans (default the real clock).
	Clock clock.PassiveClock
	// DefaultNamespace is the namespace the app opens on (default "default").
	DefaultNamespace string
	// MaxBodyBytes caps request bodies (default DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// Log receives the console's few log lines (default: discarded).
	Log logr.Logger
	// AllowedHosts, when set, are the only Host headers served (the local
	// console allows only its own 127.0.0.1 and localhost addresses, so a
	// DNS-rebinding page cannot reach it by another name).
	AllowedHosts []string
	// History, when set, is where runs that have left etcd are read from:
	// a run's page falls back to it, and the runs list of a workflow or a
	// subject adds its recent finished runs. The local console sets it when
	// it knows the history API's URL.
	History History
}

// Server is the console: API and embedded app. It is a controller-runtime
// Runnable (Start) so the manager can run it, and an http.Handler.
type Server struct {
	opts    Options
	id      identity
	assets  fs.FS
	handler http.Handler
	// hideSink is true when Test plans must not show the manager's CRM sink
	// (the in-cluster console, when the manager has one).
	hideSink bool
}

// NewLocal builds the console of `kubectl crmflow ui`: every call uses c,
// the client of the user's kubeconfig.
func NewLocal(c client.Client, opts Options) (*Server, error) {
	if c == nil {
		return nil, errors.New("console: a client is required")
	}
	return newServer(fixedIdentity{c: c}, opts)
}

// NewPassThrough builds the in-cluster console: cfg gives only the API
// server's address and CA (its credentials are dropped); every call carries
// the signed-in person's own bearer token, never the manager's.
func NewPassThrough(cfg *rest.Config, opts Options) (*Server, error) {
	if cfg == nil {
		return nil, errors.New("console: a REST config is required")
	}
	if opts.Scheme == nil {
		return nil, errors.New("console: Options.Scheme is required")
	}
	log := opts.Log
	if log.GetSink() == nil {
		log = logr.Discard()
	}
	return newServer(newTokenIdentity(cfg, opts.Scheme, clock.RealClock{}, log), opts)
}

func newServer(id identity, opts Options) (*Server, error) {
	if opts.Engine == nil {
		return nil, errors.New("console: Options.Engine is required")
	}
	if opts.Scheme == nil {
		return nil, errors.New("console: Options.Scheme is required")
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.Log.GetSink() == nil {
		opts.Log = logr.Discard()
	}
	if opts.DefaultNamespace == "" {
		opts.DefaultNamespace = "default"
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	s := &Server{opts: opts, id: id, assets: assets()}
	if id.passThrough() {
		s.hideSink = hasManagerSink(context.Background(), opts.Engine, opts.Clock.Now())
	}
	s.handler = s.routes()
	return s, nil
}

// ServeHTTP serves the API under /api/ and the app elsewhere.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// NeedLeaderElection is false: every manager replica can serve the console.
func (s *Server) NeedLeaderElection() bool { return false }

// Start serves until ctx ends, then shuts down gracefully.
func (s *Server) Start(ctx context.Context) error {
	ln := s.opts.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", s.opts.Addr); err != nil {
			return fmt.Errorf("console listen on %s: %w", s.opts.Addr, err)
		}
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second}
	s.opts.Log.Info("serving the console", "address", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("console: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("console shutdown: %w", err)
	}
	return nil
}

// routes wires the API and the app behind the security middleware.
//
// Every API route needs the caller's identity (signedIn) except the three
// that exist to get one: session (hands out the CSRF token and says whether
// this browser is signed in), login (proves a token and keeps it) and logout
// (forgets it, which must work with an expired token too). They run neither
// the engine nor a Kubernetes call with anyone's rights, and reveal nothing
// of the manager's configuration. Outside /api/ the embedded app (index.html
// and its hashed assets) is public: it is the same for everyone and holds no
// data. A route added here needs an identity unless added with public.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	public := func(pattern string, h func(w http.ResponseWriter, r *http.Request) error) {
		mux.Handle(pattern, apiHandler(h))
	}
	api := func(pattern string, h func(w http.ResponseWriter, r *http.Request) error) {
		mux.Handle(pattern, apiHandler(s.signedIn(h)))
	}
	public("GET /api/session", s.session)
	public("POST /api/login", s.login)
	public("POST /api/logout", s.logout)
	api("GET /api/catalogue", s.catalogue)
	api("GET /api/namespaces", s.namespaces)
	api("GET /api/workflows", s.listWorkflows)
	api("GET /api/namespaces/{ns}/workflows", s.listWorkflows)
	api("GET /api/namespaces/{ns}/workflows/{name}", s.getWorkflow)
	api("GET /api/namespaces/{ns}/workflows/{name}/export", s.exportWorkflow)
	api("POST /api/namespaces/{ns}/workflows", s.saveWorkflow)
	api("POST /api/namespaces/{ns}/workflows/{name}/state", s.setState)
	api("POST /api/namespaces/{ns}/plan", s.plan)
	api("GET /api/namespaces/{ns}/samples", s.samples)
	api("GET /api/namespaces/{ns}/secrets", s.secrets)
	api("GET /api/namespaces/{ns}/runs", s.listRuns)
	api("GET /api/namespaces/{ns}/runs/{name}", s.getRun)
	api("POST /api/namespaces/{ns}/runs/{name}/cancel", s.cancelRun)
	api("POST /api/yaml/parse", s.parseYAML)
	api("POST /api/yaml/render", s.renderYAML)
	api("/api/", func(http.ResponseWriter, *http.Request) error {
		return &apiError{status: http.StatusNotFound, Message: "no such API endpoint"}
	})
	mux.Handle("/", http.HandlerFunc(s.app))
	return s.secure(mux)
}

// callerKey is the request context key of the client signedIn established.
type callerKey struct{}

// signedIn runs h only for a caller whose identity is established: in the
// in-cluster console, a token the API server accepts (401 otherwise, before
// the engine evaluates anything or a body is read); locally, the
// kubeconfig's identity. The namespace and name path segments are checked
// first (400 naming the segment), so a bad one never reaches an API call.
// h gets the caller's client from caller.
func (s *Server) signedIn(h func(w http.ResponseWriter, r *http.Request) error) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := checkPathNames(r); err != nil {
			return err
		}
		c, err := s.id.authenticate(r)
		if err != nil {
			return err
		}
		return h(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, c)))
	}
}

// caller is the client acting as the caller, which signedIn established;
// errSignIn (401) when the route did not go through signedIn.
func caller(r *http.Request) (client.Client, error) {
	if c, ok := r.Context().Value(callerKey{}).(client.Client); ok && c != nil {
		return c, nil
	}
	return nil, errSignIn
}

// checkPathNames refuses a {ns} path segment that is not a namespace name
// (a DNS-1123 label) and a {name} segment that is not an object name (a
// DNS-1123 subdomain) with 400 naming the segment. The mux has unescaped
// them, so "..", "%2F" and upper case are all caught here.
func checkPathNames(r *http.Request) error {
	if strings.Contains(r.Pattern, "{ns}") {
		if errs := validation.IsDNS1123Label(r.PathValue("ns")); len(errs) > 0 {
			return &apiError{status: http.StatusBadRequest, Message: "the namespace in the URL path is not a valid namespace name: " + strings.Join(errs, "; ")}
		}
	}
	if strings.Contains(r.Pattern, "{name}") {
		if errs := validation.IsDNS1123Subdomain(r.PathValue("name")); len(errs) > 0 {
			return &apiError{status: http.StatusBadRequest, Message: "the name in the URL path is not a valid object name: " + strings.Join(errs, "; ")}
		}
	}
	return nil
}
