package console

import (
	"fmt"
	"net/http"
	"strings"

	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"sigs.k8s.io/yaml"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// workflowYAML renders a Workflow as the YAML a person keeps in Git.
func workflowYAML(wf *v1alpha1.Workflow) ([]byte, error) {
	raw, err := yaml.Marshal(wf)
	if err != nil {
		return nil, fmt.Errorf("render YAML: %w", err)
	}
	// A Workflow with an empty status and no creation time renders those as
	// noise; drop them.
	out := strings.ReplaceAll(string(raw), "  creationTimestamp: null\n", "")
	out = strings.TrimSuffix(out, "status:\n  runs:\n    active: 0\n    cancelled: 0\n    failed: 0\n    succeeded: 0\n")
	return []byte(out), nil
}

// yamlRequest is POST /api/yaml/parse's body.
type yamlRequest struct {
	YAML string `json:"yaml"`
}

// parseYAML turns the YAML view's text into the Workflow the form edits,
// refusing unknown fields (an unknown trigger kind, a misspelt action) as
// the API server does, with the field named.
func (s *Server) parseYAML(w http.ResponseWriter, r *http.Request) error {
	var req yamlRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	var wf v1alpha1.Workflow
	// The API machinery's strict decoder names unknown fields by their full
	// path (spec.trigger.webhook), as the API server does.
	dec := kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, s.opts.Scheme, s.opts.Scheme, kjson.SerializerOptions{Yaml: true, Strict: true})
	gvk := v1alpha1.GroupVersion.WithKind("Workflow")
	_, got, err := dec.Decode([]byte(req.YAML), &gvk, &wf)
	if err != nil {
		return &apiError{status: http.StatusUnprocessableEntity, Message: "the YAML is not a valid Workflow: " + err.Error(),
			Fields: []fieldProblem{{Field: "yaml", Message: err.Error()}}}
	}
	if got != nil && got.Kind != "Workflow" {
		return fieldError(http.StatusUnprocessableEntity, "kind", fmt.Sprintf("is %q, not Workflow", got.Kind))
	}
	wf.Status = v1alpha1.WorkflowStatus{}
	return writeJSON(w, http.StatusOK, map[string]any{"workflow": cleanWorkflow(&wf)})
}

// renderRequest is POST /api/yaml/render's body.
type renderRequest struct {
	Workflow *v1alpha1.Workflow `json:"workflow"`
}

// renderYAML turns the form's Workflow into the YAML view's text.
func (s *Server) renderYAML(w http.ResponseWriter, r *http.Request) error {
	var req renderRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Workflow == nil {
		return fieldError(http.StatusBadRequest, "workflow", "the request names no workflow")
	}
	wf := cleanWorkflow(req.Workflow)
	wf.ResourceVersion = ""
	raw, err := workflowYAML(wf)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]string{"yaml": string(raw)})
}
