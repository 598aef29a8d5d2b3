package console

import (
	"context"
	"fmt"
	"net/http"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// workflowSummary is one row of the Workflows page.
type workflowSummary struct {
	Name              string               `json:"name"`
	Namespace         string               `json:"namespace"`
	Description       string               `json:"description,omitempty"`
	State             string               `json:"state"`
	Trigger           string               `json:"trigger"`
	Ready             string               `json:"ready"`
	ReadyMessage      string               `json:"readyMessage,omitempty"`
	Runs              v1alpha1.RunCounts   `json:"runs"`
	Skipped           []v1alpha1.SkipCount `json:"skipped,omitempty"`
	LastTriggeredTime *metav1.Time         `json:"lastTriggeredTime,omitempty"`
}

// namespaces lists the namespaces the person may list; when they may not
// (namespace-scoped RBAC), the app asks for a namespace by name instead.
func (s *Server) namespaces(w http.ResponseWriter, r *http.Request) error {
	c, err := caller(r)
	if err != nil {
		return err
	}
	var list metav1.PartialObjectMetadataList
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NamespaceList"))
	if err := c.List(r.Context(), &list); err != nil {
		if apierrors.IsForbidden(err) {
			return writeJSON(w, http.StatusOK, map[string]any{"namespaces": []string{}, "canList": false})
		}
		return kubeError(err, "list namespaces")
	}
	names := make([]string, 0, len(list.Items))
	for i := range list.Items {
		n := &list.Items[i]
		names = append(names, n.Name)
	}
	sort.Strings(names)
	return writeJSON(w, http.StatusOK, map[string]any{"namespaces": names, "canList": true})
}

// listWorkflows lists the Workflows of one namespace, or of all namespaces
// (GET /api/workflows) for a person allowed to list them cluster-wide.
func (s *Server) listWorkflows(w http.ResponseWriter, r *http.Request) error {
	c, err := caller(r)
	if err != nil {
		return err
	}
	var list v1alpha1.WorkflowList
	if err := c.List(r.Context(), &list, client.InNamespace(r.PathValue("ns"))); err != nil {
		return kubeError(err, "list workflows")
	}
	rows := make([]workflowSummary, 0, len(list.Items))
	for i := range list.Items {
		rows = append(rows, summarize(&list.Items[i]))
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Namespace != rows[j].Namespace {
			return rows[i].Namespace < rows[j].Namespace
		}
		return rows[i].Name < rows[j].Name
	})
	return writeJSON(w, http.StatusOK, map[string]any{"items": rows})
}

func summarize(wf *v1alpha1.Workflow) workflowSummary {
	row := workflowSummary{Name: wf.Name, Namespace: wf.Namespace, Description: wf.Spec.Description,
		State: string(wf.Spec.StateOrDefault()), Trigger: describeTrigger(&wf.Spec.Trigger), Ready: "Unknown",
		Runs: wf.Status.Runs, Skipped: wf.Status.SkippedEvents, LastTriggeredTime: wf.Status.LastTriggeredTime}
	if c := meta.FindStatusCondition(wf.Status.Conditions, "Ready"); c != nil {
		row.Ready = string(c.Status)
		if c.Status != metav1.ConditionTrue {
			row.ReadyMessage = c.Message
		}
	}
	return row
}

// describeTrigger says what starts a workflow, for people.
func describeTrigger(t *v1alpha1.Trigger) string {
	switch {
	case t.Event != nil:
		d := "on"
		for i, x := range t.Event.Types {
			if i > 0 {
				d += ","
			}
			d += " " + string(x)
		}
		if t.Event.Delay != nil {
			d += " after " + string(*t.Event.Delay)
		}
		return d
	case t.Schedule != nil:
		return fmt.Sprintf("cron %q (%s)", t.Schedule.Cron, v1alpha1.TimeZoneOrDefault(t.Schedule.TimeZone))
	case t.DateField != nil:
		return fmt.Sprintf("date %s %s", t.DateField.Field, t.DateField.Offset)
	}
	return "no trigger"
}

func (s *Server) getWorkflow(w http.ResponseWriter, r *http.Request) error {
	wf, err := s.fetchWorkflow(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"workflow": cleanWorkflow(wf), "summary": summarize(wf)})
}

func (s *Server) fetchWorkflow(r *http.Request) (*v1alpha1.Workflow, error) {
	c, err := caller(r)
	if err != nil {
		return nil, err
	}
	var wf v1alpha1.Workflow
	if err := c.Get(r.Context(), types.NamespacedName{Namespace: r.PathValue("ns"), Name: r.PathValue("name")}, &wf); err != nil {
		return nil, kubeError(err, "get workflow")
	}
	return &wf, nil
}

// cleanWorkflow is the Workflow as the builder edits it: apiVersion, kind,
// name, namespace, labels, annotations, resourceVersion and spec.
func cleanWorkflow(wf *v1alpha1.Workflow) *v1alpha1.Workflow {
	out := &v1alpha1.Workflow{Spec: *wf.Spec.DeepCopy()}
	out.APIVersion, out.Kind = v1alpha1.GroupVersion.String(), "Workflow"
	out.Name, out.Namespace, out.ResourceVersion, out.Generation = wf.Name, wf.Namespace, wf.ResourceVersion, wf.Generation
	out.Labels, out.Annotations = wf.Labels, wf.Annotations
	delete(out.Annotations, "kubectl.kubernetes.io/last-applied-configuration")
	return out
}

// exportWorkflow downloads the Workflow as YAML for GitOps (no status, no
// server-set metadata).
func (s *Server) exportWorkflow(w http.ResponseWriter, r *http.Request) error {
	wf, err := s.fetchWorkflow(r)
	if err != nil {
		return err
	}
	out := cleanWorkflow(wf)
	out.ResourceVersion = ""
	raw, err := workflowYAML(out)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", wf.Name+".yaml"))
	_, err = w.Write(raw)
	return err
}

// saveRequest is the body of POST /api/namespaces/{ns}/workflows.
type saveRequest struct {
	// Workflow to create (no resourceVersion) or update (with the one it was read at).
	Workflow *v1alpha1.Workflow `json:"workflow"`
	// DryRun asks the API server to validate only (dryRun=All): CRD rules and
	// the admission webhook answer, nothing is stored.
	DryRun bool `json:"dryRun"`
}

// saveWorkflow creates or updates a Workflow, or only validates it, for a
// signed-in caller (signedIn; caller is checked again first). The
// engine's validation (runner.Engine.Validate, which the admission webhook runs) answers
// first, so its field errors show even where no webhook is installed; then
// the API server's own dry run or write.
func (s *Server) saveWorkflow(w http.ResponseWriter, r *http.Request) error {
	c, err := caller(r)
	if err != nil {
		return err
	}
	var req saveRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Workflow == nil {
		return fieldError(http.StatusBadRequest, "workflow", "the request names no workflow")
	}
	wf := req.Workflow
	wf.Namespace = r.PathValue("ns")
	wf.APIVersion, wf.Kind = v1alpha1.GroupVersion.String(), "Workflow"
	wf.Status = v1alpha1.WorkflowStatus{}
	if wf.Name == "" {
		return fieldError(http.StatusUnprocessableEntity, "metadata.name", "a name is required")
	}
	if errs := s.opts.Engine.Validate(&wf.Spec, field.NewPath("spec")); len(errs) > 0 {
		return invalid(errs)
	}
	var dry []string
	if req.DryRun {
		dry = []string{metav1.DryRunAll}
	}
	if wf.ResourceVersion == "" {
		err = c.Create(r.Context(), wf, &client.CreateOptions{DryRun: dry})
	} else {
		err = updateSpec(r.Context(), c, wf, dry)
	}
	if err != nil {
		return kubeError(err, "save workflow")
	}
	return writeJSON(w, http.StatusOK, map[string]any{"workflow": cleanWorkflow(wf), "dryRun": req.DryRun})
}

// updateSpec writes wf's spec over the stored Workflow (its labels and
// annotations, kubectl's last-applied-configuration included, stay). Concurrency is judged on the spec (metadata.generation), not the
// resourceVersion: the controller's status writes move the resourceVersion
// while a person edits, and must not make their save fail; someone else's
// spec change since the builder loaded it must.
func updateSpec(ctx context.Context, c client.Client, wf *v1alpha1.Workflow, dry []string) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var cur v1alpha1.Workflow
		if err := c.Get(ctx, client.ObjectKeyFromObject(wf), &cur); err != nil {
			return err
		}
		if wf.Generation != 0 && cur.Generation != wf.Generation {
			return apierrors.NewConflict(v1alpha1.GroupVersion.WithResource("workflows").GroupResource(), wf.Name,
				fmt.Errorf("someone changed the workflow since you opened it (generation %d, now %d): reload it", wf.Generation, cur.Generation))
		}
		cur.Spec = wf.Spec
		if err := c.Update(ctx, &cur, &client.UpdateOptions{DryRun: dry}); err != nil {
			return err
		}
		*wf = cur
		return nil
	})
}

// invalid turns field errors into a 422 answer like the API server's.
func invalid(errs field.ErrorList) error {
	ae := &apiError{status: http.StatusUnprocessableEntity, Reason: string(metav1.StatusReasonInvalid), Message: errs.ToAggregate().Error()}
	for _, e := range errs {
		msg := e.Detail
		if msg == "" {
			msg = e.ErrorBody()
		}
		ae.Fields = append(ae.Fields, fieldProblem{Field: e.Field, Message: msg})
	}
	return ae
}

// stateRequest is the body of POST …/workflows/{name}/state.
type stateRequest struct {
	State v1alpha1.WorkflowState `json:"state"`
}

// setState activates, pauses or drafts a Workflow with a merge patch of
// spec.state: nothing else of the Workflow changes.
func (s *Server) setState(w http.ResponseWriter, r *http.Request) error {
	var req stateRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	switch req.State {
	case v1alpha1.WorkflowActive, v1alpha1.WorkflowPaused, v1alpha1.WorkflowDraft:
	default:
		return fieldError(http.StatusBadRequest, "state", fmt.Sprintf("%q is not Active, Paused or Draft", req.State))
	}
	c, err := caller(r)
	if err != nil {
		return err
	}
	wf := &v1alpha1.Workflow{ObjectMeta: metav1.ObjectMeta{Namespace: r.PathValue("ns"), Name: r.PathValue("name")}}
	patch := client.RawPatch(types.MergePatchType, mustJSON(map[string]any{"spec": map[string]any{"state": req.State}}))
	if err := c.Patch(r.Context(), wf, patch); err != nil {
		return kubeError(err, "change state")
	}
	return writeJSON(w, http.StatusOK, map[string]any{"summary": summarize(wf)})
}

// secrets lists the names of the namespace's Secrets (metadata only: the
// console never reads a Secret's data) for the builder's pickers.
func (s *Server) secrets(w http.ResponseWriter, r *http.Request) error {
	c, err := caller(r)
	if err != nil {
		return err
	}
	var list metav1.PartialObjectMetadataList
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("SecretList"))
	if err := c.List(r.Context(), &list, client.InNamespace(r.PathValue("ns"))); err != nil {
		if apierrors.IsForbidden(err) {
			return writeJSON(w, http.StatusOK, map[string]any{"names": []string{}, "canList": false})
		}
		return kubeError(err, "list secrets")
	}
	names := make([]string, 0, len(list.Items))
	for i := range list.Items {
		s := &list.Items[i]
		names = append(names, s.Name)
	}
	sort.Strings(names)
	return writeJSON(w, http.StatusOK, map[string]any{"names": names, "canList": true})
}
