package intake

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/controllers/intake/request"
	"github.com/crmflow/crmflow/controllers/revision"
)

// +kubebuilder:rbac:groups=crmflow.io,resources=workflows,verbs=get;list;watch
// +kubebuilder:rbac:groups=crmflow.io,resources=workflows/status,verbs=get;patch
// +kubebuilder:rbac:groups=crmflow.io,resources=workflows/finalizers,verbs=update
// +kubebuilder:rbac:groups=crmflow.io,resources=workflowruns,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=crmflow.io,resources=workflowruns/status,verbs=get;update
// +kubebuilder:rbac:groups=apps,resources=controllerrevisions,verbs=get;list;watch;create
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Setup builds the receiver on mgr and adds it, and its small cache of
// Namespaces and crmflow-intake Secrets, to mgr as Runnables. The receiver
// serves on every replica (it does not need leader election). The manager
// must have the controllers/index indexes registered (index.Setup).
func Setup(mgr ctrl.Manager, opts Options) error {
	r, tenants, err := New(mgr, opts)
	if err != nil {
		return err
	}
	if err := mgr.Add(tenants); err != nil {
		return fmt.Errorf("add intake cache: %w", err)
	}
	if err := mgr.Add(r); err != nil {
		return fmt.Errorf("add intake receiver: %w", err)
	}
	return nil
}

// New builds a Receiver on mgr's client, cache and API reader without adding
// it to mgr. It also returns the receiver's own cache (Namespaces, and
// Secrets named crmflow-intake only), which must be started as well: Setup
// adds both to the manager.
func New(mgr ctrl.Manager, opts Options) (*Receiver, cache.Cache, error) {
	opts = opts.withDefaults()
	if opts.Engine == nil {
		return nil, nil, errors.New("intake: Options.Engine is required")
	}
	if opts.Recorder == nil {
		opts.Recorder = mgr.GetEventRecorder("crmflow-intake")
	}
	tenants, err := cache.New(mgr.GetConfig(), cache.Options{
		Scheme: mgr.GetScheme(),
		Mapper: mgr.GetRESTMapper(),
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {Field: fields.OneTermEqualSelector("metadata.name", request.SecretName)},
		},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("intake cache: %w", err)
	}
	r := &Receiver{
		opts:      opts,
		client:    mgr.GetClient(),
		live:      mgr.GetAPIReader(),
		tenants:   tenants,
		workflows: newCatalogue(engineCompiler(opts.Engine)),
		revisions: opts.Revisions,
	}
	if r.revisions == nil {
		r.revisions = &revision.Store{Client: mgr.GetClient(), Live: mgr.GetAPIReader()}
	}
	r.skips = newSkipRecorder(r.client, r.live, opts.Clock, opts.Recorder, opts.EventInterval)
	ctx := context.Background()
	for _, obj := range []client.Object{&corev1.Namespace{}, &corev1.Secret{}} {
		if _, err := tenants.GetInformer(ctx, obj); err != nil {
			return nil, nil, fmt.Errorf("intake informer for %T: %w", obj, err)
		}
	}
	inf, err := mgr.GetCache().GetInformer(ctx, &v1alpha1.Workflow{})
	if err != nil {
		return nil, nil, fmt.Errorf("workflow informer: %w", err)
	}
	reg, err := inf.AddEventHandler(r.workflows.handler())
	if err != nil {
		return nil, nil, fmt.Errorf("watch workflows: %w", err)
	}
	r.synced = func(ctx context.Context) bool {
		return mgr.GetCache().WaitForCacheSync(ctx) && tenants.WaitForCacheSync(ctx) &&
			toolscache.WaitForCacheSync(ctx.Done(), reg.HasSynced)
	}
	return r, tenants, nil
}

// NeedLeaderElection is false: every replica receives events.
func (r *Receiver) NeedLeaderElection() bool { return false }

// Start serves until ctx ends. It answers 503 until the caches have synced,
// then drains in-flight requests on shutdown and flushes skip counters.
func (r *Receiver) Start(ctx context.Context) error {
	logger := log.FromContext(ctx).WithName("intake")
	ln := r.opts.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", r.opts.Addr); err != nil {
			return fmt.Errorf("intake listen on %s: %w", r.opts.Addr, err)
		}
	}
	const bodyReadTimeout = 30 * time.Second
	srv := &http.Server{
		Handler:           r,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       bodyReadTimeout,
		// Counted from the end of the headers: room to read the body, do
		// the API work and answer.
		WriteTimeout:   bodyReadTimeout + r.opts.RequestTimeout + 10*time.Second,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		BaseContext:    func(net.Listener) context.Context { return log.IntoContext(context.Background(), logger) },
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	go func() {
		if r.synced(ctx) {
			r.ready.Store(true)
			logger.Info("receiving CloudEvents", "addr", ln.Addr().String())
		}
	}()
	flushed := make(chan struct{})
	go func() { r.skips.run(ctx, r.opts.FlushInterval); close(flushed) }()

	var err error
	select {
	case err = <-served:
	case <-ctx.Done():
		shutdownCtx, cancel := context.WithTimeout(context.Background(), r.opts.RequestTimeout)
		err = srv.Shutdown(shutdownCtx)
		cancel()
	}
	<-flushed
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
