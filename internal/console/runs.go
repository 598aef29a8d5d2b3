package console

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/internal/history"
)

// maxScanPages bounds how many API pages one filtered runs page reads.
const maxScanPages = 5

// runSummary is one row of the runs page: small on purpose, so a page of
// runs stays a few kilobytes whatever the runs carry.
type runSummary struct {
	Name           string            `json:"name"`
	Workflow       string            `json:"workflow"`
	Subject        string            `json:"subject,omitempty"`
	Phase          v1alpha1.RunPhase `json:"phase,omitempty"`
	CurrentStep    string            `json:"currentStep,omitempty"`
	EventType      string            `json:"eventType,omitempty"`
	DryRun         bool              `json:"dryRun,omitempty"`
	Created        metav1.Time       `json:"created"`
	CompletionTime *metav1.Time      `json:"completionTime,omitempty"`
	WakeAt         *metav1.Time      `json:"wakeAt,omitempty"`
	// Archived: the run has left etcd; this row is from the run history.
	Archived bool `json:"archived,omitempty"`
}

// listRuns serves one page of runs, paginated by the API server
// (limit/continue: never the whole list), filtered by workflow and phase
// through the CRD's selectable fields and by subject through its hash label.
// Pending (no phase yet) and a subject whose hash collides are checked here,
// reading up to maxScanPages API pages to fill the page and handing back
// the API server's continue token to read on from.
func (s *Server) listRuns(w http.ResponseWriter, r *http.Request) error {
	c, err := caller(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	limit := DefaultRunsPageSize
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			return fieldError(http.StatusBadRequest, "limit", "must be a positive number")
		}
		limit = min(n, MaxRunsPageSize)
	}
	sel := labels.NewSelector()
	add := func(key string, op selection.Operator, vals ...string) error {
		req, err := labels.NewRequirement(key, op, vals)
		if err != nil {
			return fieldError(http.StatusBadRequest, key, err.Error())
		}
		sel = sel.Add(*req)
		return nil
	}
	// spec.workflowName and status.phase are selectable fields of the CRD:
	// the API server filters them and pages the result itself.
	var byField []fields.Selector
	if wf := q.Get("workflow"); wf != "" {
		byField = append(byField, fields.OneTermEqualSelector("spec.workflowName", wf))
	}
	subject := q.Get("subject")
	if subject != "" {
		_ = add(v1alpha1.LabelSubjectHash, selection.Equals, v1alpha1.SubjectHash(subject))
	}
	phase := v1alpha1.RunPhase(q.Get("phase"))
	switch phase {
	case "", v1alpha1.RunPending: // a new run has no phase yet: Pending is checked below
	case v1alpha1.RunSucceeded, v1alpha1.RunFailed, v1alpha1.RunCancelled, v1alpha1.RunRunning, v1alpha1.RunWaiting:
		byField = append(byField, fields.OneTermEqualSelector("status.phase", string(phase)))
	default:
		return fieldError(http.StatusBadRequest, "phase", "must be Pending, Running, Waiting, Succeeded, Failed or Cancelled")
	}
	items := []runSummary{}
	cont := q.Get("continue")
	for page := 0; page < maxScanPages && len(items) < limit; page++ {
		var list v1alpha1.WorkflowRunList
		if err := c.List(r.Context(), &list, client.InNamespace(r.PathValue("ns")),
			client.MatchingLabelsSelector{Selector: sel}, client.MatchingFieldsSelector{Selector: fields.AndSelectors(byField...)},
			client.Limit(int64(limit-len(items))), client.Continue(cont)); err != nil {
			return kubeError(err, "list runs")
		}
		for i := range list.Items {
			run := &list.Items[i]
			if (phase != "" && run.Status.Phase != phase && (phase != v1alpha1.RunPending || run.Status.Phase != "")) ||
				(subject != "" && run.Spec.Subject != subject) {
				continue
			}
			items = append(items, summarizeRun(run))
		}
		cont = list.Continue
		if cont == "" || (phase != v1alpha1.RunPending && subject == "") {
			break // the API server filtered this page completely
		}
	}
	answer := map[string]any{"items": items, "continue": cont}
	if cont == "" { // the live runs are all listed: add the finished ones that left etcd
		archived, err := s.archivedRuns(r, r.PathValue("ns"), q.Get("workflow"), subject, phase, limit, items)
		if err != nil {
			return err
		}
		answer["archived"] = archived
	}
	return writeJSON(w, http.StatusOK, answer)
}

func summarizeRun(run *v1alpha1.WorkflowRun) runSummary {
	sum := runSummary{Name: run.Name, Workflow: run.Spec.WorkflowName, Subject: run.Spec.Subject, Phase: run.Status.Phase,
		CurrentStep: run.Status.CurrentStep, DryRun: run.Spec.DryRun, Created: run.CreationTimestamp,
		CompletionTime: run.Status.CompletionTime, WakeAt: run.Status.WakeAt}
	if sum.Phase == "" {
		sum.Phase = v1alpha1.RunPending
	}
	if run.Spec.Event != nil {
		sum.EventType = run.Spec.Event.Type
	}
	return sum
}

// runDetail is a run's timeline: what triggered it and its status. It does
// not carry the workflow spec (runs reference a revision of it).
type runDetail struct {
	Name          string                     `json:"name"`
	Namespace     string                     `json:"namespace"`
	Workflow      string                     `json:"workflow"`
	Revision      string                     `json:"workflowRevision,omitempty"`
	Subject       string                     `json:"subject,omitempty"`
	DryRun        bool                       `json:"dryRun,omitempty"`
	Cancel        bool                       `json:"cancel,omitempty"`
	Created       metav1.Time                `json:"created"`
	ScheduledTime *metav1.Time               `json:"scheduledTime,omitempty"`
	Event         *v1alpha1.CloudEvent       `json:"event,omitempty"`
	Status        v1alpha1.WorkflowRunStatus `json:"status"`
	// Archived: the run has left etcd and is read from the run history.
	Archived bool `json:"archived,omitempty"`
}

func (s *Server) getRun(w http.ResponseWriter, r *http.Request) error {
	c, err := caller(r)
	if err != nil {
		return err
	}
	var run v1alpha1.WorkflowRun
	if err := c.Get(r.Context(), types.NamespacedName{Namespace: r.PathValue("ns"), Name: r.PathValue("name")}, &run); err != nil {
		if !apierrors.IsNotFound(err) || s.opts.History == nil {
			return kubeError(err, "get run")
		}
		// Finished runs leave etcd once archived: read the run history.
		var archived history.Run
		if herr := s.opts.History.Get(r, historyPath(r.PathValue("ns"), "runs", r.PathValue("name")), nil, &archived); herr != nil {
			if errors.Is(herr, ErrNotArchived) {
				return kubeError(err, "get run")
			}
			return herr
		}
		return writeJSON(w, http.StatusOK, archivedRun(&archived))
	}
	rev := run.Spec.WorkflowRevision
	if rev == "" {
		rev = run.Status.WorkflowRevision
	}
	return writeJSON(w, http.StatusOK, runDetail{Name: run.Name, Namespace: run.Namespace, Workflow: run.Spec.WorkflowName, Revision: rev,
		Subject: run.Spec.Subject, DryRun: run.Spec.DryRun, Cancel: run.Spec.Cancel, Created: run.CreationTimestamp,
		ScheduledTime: run.Spec.ScheduledTime, Event: run.Spec.Event, Status: run.Status})
}

// cancelRun sets spec.cancel; the run controller stops the run at once.
func (s *Server) cancelRun(w http.ResponseWriter, r *http.Request) error {
	c, err := caller(r)
	if err != nil {
		return err
	}
	run := &v1alpha1.WorkflowRun{ObjectMeta: metav1.ObjectMeta{Namespace: r.PathValue("ns"), Name: r.PathValue("name")}}
	patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"cancel":true}}`))
	if err := c.Patch(r.Context(), run, patch); err != nil {
		return kubeError(err, "cancel run")
	}
	return writeJSON(w, http.StatusOK, map[string]any{"cancelled": true})
}

// recentSample is a subject seen in recent runs with its last event.
type recentSample struct {
	Subject   string       `json:"subject"`
	Run       string       `json:"run"`
	EventType string       `json:"eventType"`
	Time      *metav1.Time `json:"time,omitempty"`
	Data      string       `json:"data"`
}

// samples offers Test's sample contacts: the catalogue's example for the
// trigger's type, and subjects of this namespace's recent runs (one page)
// with their last event's data.
func (s *Server) samples(w http.ResponseWriter, r *http.Request) error {
	c, err := caller(r)
	if err != nil {
		return err
	}
	eventType := r.URL.Query().Get("type")
	var list v1alpha1.WorkflowRunList
	if err := c.List(r.Context(), &list, client.InNamespace(r.PathValue("ns")), client.Limit(100)); err != nil {
		return kubeError(err, "list runs")
	}
	latest := map[string]recentSample{}
	for i := range list.Items {
		run := &list.Items[i]
		ev := run.Spec.Event
		if ev == nil || run.Spec.Subject == "" || ev.Data == nil || (eventType != "" && ev.Type != eventType) ||
			strings.HasPrefix(ev.Type, "io.crmflow.") {
			continue
		}
		prev, seen := latest[run.Spec.Subject]
		if seen && prev.Time != nil && ev.Time != nil && !prev.Time.Before(ev.Time) {
			continue
		}
		latest[run.Spec.Subject] = recentSample{Subject: run.Spec.Subject, Run: run.Name, EventType: ev.Type, Time: ev.Time, Data: string(ev.Data.Raw)}
	}
	recent := make([]recentSample, 0, len(latest))
	for _, v := range latest {
		recent = append(recent, v)
	}
	example := string(mustJSON(exampleFor(eventType)))
	return writeJSON(w, http.StatusOK, map[string]any{"example": example, "known": knownEventType(eventType), "recent": recent})
}
