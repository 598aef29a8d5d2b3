package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/runner"
)

// The markers below make `make manifests` write config/webhook/manifests.yaml;
// charts/crmflow registers the same paths (test/chart checks it).

// +kubebuilder:webhook:path=/mutate-crmflow-io-v1alpha1-workflow,mutating=true,failurePolicy=fail,sideEffects=None,groups=crmflow.io,resources=workflows,verbs=create;update,versions=v1alpha1,name=mworkflow-v1alpha1.crmflow.io,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/validate-crmflow-io-v1alpha1-workflow,mutating=false,failurePolicy=fail,sideEffects=None,groups=crmflow.io,resources=workflows,verbs=create;update,versions=v1alpha1,name=vworkflow-v1alpha1.crmflow.io,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/validate-crmflow-io-v1alpha1-workflowrun,mutating=false,failurePolicy=fail,sideEffects=None,groups=crmflow.io,resources=workflowruns,verbs=create;update,versions=v1alpha1,name=vworkflowrun-v1alpha1.crmflow.io,admissionReviewVersions=v1

var (
	workflowGK    = schema.GroupKind{Group: v1alpha1.GroupVersion.Group, Kind: "Workflow"}
	workflowRunGK = schema.GroupKind{Group: v1alpha1.GroupVersion.Group, Kind: "WorkflowRun"}
	workflowRunGR = schema.GroupResource{Group: v1alpha1.GroupVersion.Group, Resource: "workflowruns"}
)

// Options configure the webhooks.
type Options struct {
	// Compiler compiles specs; normally the manager's *runner.Engine.
	Compiler Compiler
	// Secrets, when set, is used to warn about referenced Secrets that do not
	// exist (yet). Missing Secrets are warnings, not errors: GitOps tools may
	// apply a Workflow before its Secret.
	Secrets client.Reader
	// CRMSinkKnown says whether the manager's --crm-sink-url is set; when
	// false, a workflow with CRM commands and no connections.crm.sinkURL is
	// admitted with a warning.
	CRMSinkKnown bool
	// Self returns the manager's own user name: its updates of a run's
	// spec (inbox deliveries, rescheduled date runs) are allowed, anyone
	// else's only to spec.cancel. Nil: nobody is the manager.
	Self func(context.Context) (string, error)
}

// Option changes Options.
type Option func(*Options)

// WithCRMSinkURL tells the webhooks the manager's --crm-sink-url, so they can
// warn about workflows whose CRM commands have nowhere to go.
func WithCRMSinkURL(url string) Option {
	return func(o *Options) { o.CRMSinkKnown = url != "" }
}

// SetupWithManager registers the Workflow defaulter and validator and the
// WorkflowRun validator with mgr's webhook server, compiling with eng.
func SetupWithManager(mgr ctrl.Manager, eng *runner.Engine, opts ...Option) error {
	o := Options{Compiler: eng, Secrets: mgr.GetAPIReader(), CRMSinkKnown: true, Self: selfUser(mgr.GetConfig())}
	for _, f := range opts {
		f(&o)
	}
	return Setup(mgr, o)
}

// Setup registers the webhooks with explicit options.
func Setup(mgr ctrl.Manager, o Options) error {
	if o.Compiler == nil {
		return fmt.Errorf("set up webhooks: a compiler (the engine) is required")
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &v1alpha1.Workflow{}).
		WithDefaulter(&WorkflowDefaulter{}).
		WithValidator(&WorkflowValidator{Options: o}).
		Complete(); err != nil {
		return fmt.Errorf("set up Workflow webhooks: %w", err)
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &v1alpha1.WorkflowRun{}).
		WithValidator(&WorkflowRunValidator{Options: o}).
		Complete(); err != nil {
		return fmt.Errorf("set up WorkflowRun webhook: %w", err)
	}
	return nil
}

// WorkflowDefaulter writes a Workflow's defaults (v1alpha1.WorkflowSpec.Default).
type WorkflowDefaulter struct{}

var _ admission.Defaulter[*v1alpha1.Workflow] = &WorkflowDefaulter{}

// Default fills the unset fields of wf's spec.
func (d *WorkflowDefaulter) Default(_ context.Context, wf *v1alpha1.Workflow) error {
	wf.Spec.Default()
	return nil
}

// WorkflowValidator refuses Workflows that do not compile or reference
// Secrets, time zones, cron expressions or durations wrongly, and warns about
// likely loops and unreachable steps.
type WorkflowValidator struct {
	Options
}

var _ admission.Validator[*v1alpha1.Workflow] = &WorkflowValidator{}

// ValidateCreate checks a new Workflow.
func (v *WorkflowValidator) ValidateCreate(ctx context.Context, wf *v1alpha1.Workflow) (admission.Warnings, error) {
	return v.validate(ctx, wf, nil)
}

// ValidateUpdate checks a changed Workflow. An update that leaves the spec
// as it was (labels, finalizers, deletion) is never refused, so a workflow
// stored before a stricter release stays editable and deletable.
func (v *WorkflowValidator) ValidateUpdate(ctx context.Context, oldWf, newWf *v1alpha1.Workflow) (admission.Warnings, error) {
	return v.validate(ctx, newWf, oldWf)
}

// ValidateDelete allows every deletion.
func (v *WorkflowValidator) ValidateDelete(context.Context, *v1alpha1.Workflow) (admission.Warnings, error) {
	return nil, nil
}

func (v *WorkflowValidator) validate(ctx context.Context, wf, old *v1alpha1.Workflow) (admission.Warnings, error) {
	path := field.NewPath("spec")
	warnings := WorkflowWarnings(&wf.Spec, path, v.CRMSinkKnown)
	warnings = append(warnings, v.missingSecrets(ctx, wf.Namespace, &wf.Spec, path)...)
	if old != nil && (wf.DeletionTimestamp != nil || equality.Semantic.DeepEqual(old.Spec, wf.Spec)) {
		return warnings, nil
	}
	errs := ValidateWorkflowSpec(&wf.Spec, path, v.Compiler)
	if old != nil {
		var kept []string
		errs, kept = ratchetStepTimeouts(errs, &old.Spec, &wf.Spec, path)
		warnings = append(warnings, kept...)
	}
	if len(errs) > 0 {
		return warnings, apierrors.NewInvalid(workflowGK, wf.Name, errs)
	}
	return warnings, nil
}

// ratchetStepTimeouts lets an update keep a steps[].timeout above
// v1alpha1.MaxStepTimeout that the stored Workflow already had on the same
// step (stored before the bound existed): the runner cuts each attempt at
// the bound anyway, and pausing or fixing another field of such a Workflow
// must not fail on it. The kept values come back as warnings.
func ratchetStepTimeouts(errs field.ErrorList, old, spec *v1alpha1.WorkflowSpec, path *field.Path) (field.ErrorList, []string) {
	var kept []string
	out := errs[:0:0]
	for _, fe := range errs {
		if i, ok := longTimeoutStep(fe, spec, path); ok && sameStoredTimeout(old, &spec.Steps[i]) {
			kept = append(kept, fmt.Sprintf("%s: %s is above the 5m bound; each attempt is cut at 5m (kept: the stored Workflow had it)",
				fe.Field, *spec.Steps[i].Timeout))
			continue
		}
		out = append(out, fe)
	}
	return out, kept
}

// longTimeoutStep reports the index of the step whose timeout fe refuses
// for being above the bound.
func longTimeoutStep(fe *field.Error, spec *v1alpha1.WorkflowSpec, path *field.Path) (int, bool) {
	if fe.Type != field.ErrorTypeInvalid {
		return 0, false
	}
	for i := range spec.Steps {
		t := spec.Steps[i].Timeout
		if t == nil || fe.Field != path.Child("steps").Index(i).Child("timeout").String() {
			continue
		}
		d, err := t.Parse()
		return i, err == nil && d > v1alpha1.MaxStepTimeout
	}
	return 0, false
}

// sameStoredTimeout: old has a step of that name with the same timeout.
func sameStoredTimeout(old *v1alpha1.WorkflowSpec, step *v1alpha1.Step) bool {
	for i := range old.Steps {
		if o := &old.Steps[i]; o.Name == step.Name {
			return o.Timeout != nil && *o.Timeout == *step.Timeout
		}
	}
	return false
}

// missingSecrets warns about referenced Secrets that are not in namespace.
func (o *Options) missingSecrets(ctx context.Context, namespace string, spec *v1alpha1.WorkflowSpec, path *field.Path) []string {
	if o.Secrets == nil || namespace == "" {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, r := range runner.SecretRefs(spec, path) {
		if seen[r.Name] || len(validation.IsDNS1123Subdomain(r.Name)) > 0 {
			continue
		}
		seen[r.Name] = true
		var s corev1.Secret
		err := o.Secrets.Get(ctx, types.NamespacedName{Namespace: namespace, Name: r.Name}, &s)
		switch {
		case apierrors.IsNotFound(err):
			// What really happens (runner/secrets.go): the step retries
			// a minute apart and then fails the run; it does not wait.
			out = append(out, fmt.Sprintf("%s: Secret %q does not exist in namespace %q (yet); a step that needs it retries once a minute "+
				"and fails its run when its attempts run out (5 by default, about 4 minutes): create the Secret before events arrive", r.Path.Child("name"), r.Name, namespace))
		case err == nil && r.Key != "":
			if _, ok := s.Data[r.Key]; !ok {
				out = append(out, fmt.Sprintf("%s: Secret %q has no key %q", r.Path.Child("key"), r.Name, r.Key))
			}
		}
	}
	return out
}

// WorkflowRunValidator checks a new WorkflowRun: its inline workflow spec,
// if it has one, must compile (and the run must be a dry run), and its event
// data must be a JSON object, as expressions read its top-level keys. On
// update, only the manager may change more of the spec than spec.cancel.
type WorkflowRunValidator struct {
	Options
}

var _ admission.Validator[*v1alpha1.WorkflowRun] = &WorkflowRunValidator{}

// ValidateCreate checks a new run.
func (v *WorkflowRunValidator) ValidateCreate(_ context.Context, run *v1alpha1.WorkflowRun) (admission.Warnings, error) {
	var errs field.ErrorList
	if run.Spec.Workflow != nil {
		errs = ValidateWorkflowSpec(run.Spec.Workflow, field.NewPath("spec", "workflow"), v.Compiler)
		if !run.Spec.DryRun {
			// A real run acts as its Workflow, as reviewed and activated:
			// an inline spec would bypass its state and its review.
			errs = append(errs, field.Invalid(field.NewPath("spec", "dryRun"), false,
				"a run with an inline spec.workflow is a test run: set spec.dryRun: true (a real run references its Workflow's revision)"))
		}
	}
	errs = append(errs, validateEventData(run.Spec.Event, field.NewPath("spec", "event"))...)
	for i := range run.Spec.SimulatedEvents {
		errs = append(errs, validateEventData(&run.Spec.SimulatedEvents[i], field.NewPath("spec", "simulatedEvents").Index(i))...)
	}
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid(workflowRunGK, run.Name, errs)
	}
	var warnings admission.Warnings
	if len(run.Spec.SimulatedEvents) > 0 && !run.Spec.DryRun {
		warnings = append(warnings, "spec.simulatedEvents are used only by dry runs; set spec.dryRun: true or drop them")
	}
	return warnings, nil
}

// ValidateUpdate keeps a run's spec the record of what started it: apart
// from the manager itself (which appends delivered events to spec.inbox and
// moves date runs), an update may change spec.cancel and metadata only.
// Otherwise an edit of spec.event, spec.cause or spec.inbox would change
// what a running run does, and for whom, with no trace of it.
func (v *WorkflowRunValidator) ValidateUpdate(ctx context.Context, oldRun, newRun *v1alpha1.WorkflowRun) (admission.Warnings, error) {
	want := oldRun.Spec.DeepCopy()
	want.Cancel = newRun.Spec.Cancel
	if equality.Semantic.DeepEqual(*want, newRun.Spec) {
		return nil, nil
	}
	if v.Self != nil {
		req, err := admission.RequestFromContext(ctx)
		if err != nil {
			return nil, fmt.Errorf("read the admission request: %w", err)
		}
		self, err := v.Self(ctx)
		if err != nil {
			return nil, fmt.Errorf("learn the manager's own user name: %w", err)
		}
		if req.UserInfo.Username == self {
			return nil, nil
		}
	}
	return nil, apierrors.NewForbidden(workflowRunGR, newRun.Name, fmt.Errorf(
		"%s cannot be changed: a run's spec is the record of what started it; only spec.cancel can be set",
		strings.Join(changedSpecFields(want, &newRun.Spec), ", ")))
}

// changedSpecFields names the top-level spec fields that differ, as JSON paths.
func changedSpecFields(a, b *v1alpha1.WorkflowRunSpec) []string {
	var am, bm map[string]json.RawMessage
	ra, _ := json.Marshal(a)
	rb, _ := json.Marshal(b)
	_ = json.Unmarshal(ra, &am)
	_ = json.Unmarshal(rb, &bm)
	var out []string
	for k := range am {
		if !bytes.Equal(am[k], bm[k]) {
			out = append(out, "spec."+k)
		}
	}
	for k := range bm {
		if _, ok := am[k]; !ok {
			out = append(out, "spec."+k)
		}
	}
	sort.Strings(out)
	return out
}

// selfUser asks the API server, once it succeeds, who cfg's credentials are
// (a SelfSubjectReview, which every authenticated user may create).
func selfUser(cfg *rest.Config) func(context.Context) (string, error) {
	var mu sync.Mutex
	name := ""
	return func(ctx context.Context) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if name != "" {
			return name, nil
		}
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return "", err
		}
		review, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authnv1.SelfSubjectReview{}, metav1.CreateOptions{})
		if err != nil {
			return "", err
		}
		name = review.Status.UserInfo.Username
		return name, nil
	}
}

// ValidateDelete allows every deletion.
func (v *WorkflowRunValidator) ValidateDelete(context.Context, *v1alpha1.WorkflowRun) (admission.Warnings, error) {
	return nil, nil
}

// validateEventData requires event data, when present, to be a JSON object.
func validateEventData(ev *v1alpha1.CloudEvent, path *field.Path) field.ErrorList {
	if ev == nil || ev.Data == nil || len(ev.Data.Raw) == 0 {
		return nil
	}
	if trimmed := bytes.TrimSpace(ev.Data.Raw); len(trimmed) == 0 || trimmed[0] == '{' {
		return nil
	}
	return field.ErrorList{field.Invalid(path.Child("data"), field.OmitValueType{}, "must be a JSON object: expressions read its top-level keys (contact, lead, ...)")}
}
