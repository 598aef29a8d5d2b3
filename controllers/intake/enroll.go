package intake

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/controllers/enrollment"
	"github.com/crmflow/crmflow/controllers/index"
	"github.com/crmflow/crmflow/controllers/intake/request"
	"github.com/crmflow/crmflow/runner"
)

// verdict is the outcome of one workflow for one event.
type verdict struct {
	enrolled    string
	rescheduled string
	dropped     string
	skip        v1alpha1.SkipReason
	message     string
}

// handleEvent matches one event against its namespace's workflows and
// delivers it to waiting runs. Every write it causes is done when it
// returns without error.
func (r *Receiver) handleEvent(ctx context.Context, ns string, ev *v1alpha1.CloudEvent) (EventResult, []recordedSkip, error) {
	logger := log.FromContext(ctx).WithValues("eventID", ev.ID, "eventSource", ev.Source, "eventType", ev.Type, "namespace", ns)
	ctx = log.IntoContext(ctx, logger)
	res := EventResult{ID: ev.ID, Source: ev.Source}
	chain, err := request.ParseChain(ev.Extensions, 0)
	if err != nil {
		return res, nil, err
	}
	var skips []recordedSkip
	subjects := []string{}
	if ev.Subject != "" {
		subjects = append(subjects, ev.Subject)
	}
	for _, e := range r.workflows.lookup(ns, ev.Type) {
		v, subject, err := r.consider(ctx, e, ev, chain)
		if err != nil {
			return res, nil, fmt.Errorf("workflow %s: %w", e.wf.Name, err)
		}
		if subject != "" && !slices.Contains(subjects, subject) {
			subjects = append(subjects, subject)
		}
		switch {
		case v.enrolled != "":
			res.Enrolled = append(res.Enrolled, RunRef{Workflow: e.wf.Name, Run: v.enrolled})
			r.skips.triggered(e.wf, r.opts.Clock.Now())
		case v.rescheduled != "":
			res.Rescheduled = append(res.Rescheduled, RunRef{Workflow: e.wf.Name, Run: v.rescheduled})
			r.skips.dateRun(e.wf, true, r.opts.Clock.Now()) // persisted already; a resend finds the date unchanged
		case v.dropped != "":
			res.Dropped = append(res.Dropped, RunRef{Workflow: e.wf.Name, Run: v.dropped})
			r.skips.dateRun(e.wf, false, r.opts.Clock.Now())
		case v.skip != "":
			res.Skipped = append(res.Skipped, Skip{Workflow: e.wf.Name, Reason: v.skip, Message: v.message})
			skips = append(skips, recordedSkip{workflow: e.wf, reason: v.skip, message: fmt.Sprintf("event %s: %s", ev.ID, v.message),
				event: SkippedEvent{Namespace: ns, Workflow: e.wf.Name, Reason: v.skip, EventID: ev.ID, EventSource: ev.Source,
					Subject: firstNonEmpty(subject, ev.Subject), Message: v.message, Time: r.opts.Clock.Now()}})
			logger.V(1).Info("skipped", "workflow", e.wf.Name, "reason", v.skip, "message", v.message)
		}
	}
	enrolled := make([]string, 0, len(res.Enrolled))
	for _, ref := range res.Enrolled {
		enrolled = append(enrolled, ref.Run)
	}
	delivered, err := r.deliver(ctx, ns, ev, subjects, enrolled)
	if err != nil {
		return res, nil, err
	}
	res.Delivered = delivered
	if len(res.Enrolled)+len(res.Rescheduled)+len(res.Dropped)+len(res.Delivered)+len(res.Skipped) == 0 {
		// Costs nothing: the catalogue lookup above is in memory.
		res.Note = fmt.Sprintf("no workflow in namespace %s starts on type %q from source %q, and no run of the event's subject was waiting for it", ns, ev.Type, ev.Source)
	}
	return res, skips, nil
}

// consider decides whether ev enrolls a subject in workflow e and, when it
// does, persists the run. It returns the subject it computed (for
// correlation) even when it skips.
func (r *Receiver) consider(ctx context.Context, e *entry, ev *v1alpha1.CloudEvent, chain v1alpha1.CausalChain) (verdict, string, error) {
	wf := e.wf
	switch wf.Spec.State {
	case v1alpha1.WorkflowActive:
	case v1alpha1.WorkflowPaused:
		return verdict{skip: v1alpha1.SkipPaused, message: "workflow is Paused"}, "", nil
	default:
		return verdict{skip: v1alpha1.SkipDraft, message: "workflow is a Draft: set spec.state to Active to enroll"}, "", nil
	}
	if e.compileErr != nil {
		return verdict{skip: v1alpha1.SkipEvaluationError, message: "workflow does not compile: " + e.compileErr.Error()}, "", nil
	}
	if !e.prog.Triggers(ev) {
		return verdict{}, "", nil // e.g. the trigger names another source: not listening
	}
	now := r.opts.Clock.Now()
	evalNow := now
	if ev.Time != nil {
		evalNow = ev.Time.Time // the engine evaluates at the event's time too
	}
	subject, err := e.prog.Subject(ev, evalNow)
	if err != nil || subject == "" {
		return verdict{skip: v1alpha1.SkipSubjectMissing, message: fmt.Sprintf("no subject: %v", err)}, "", nil
	}
	if n := utf8.RuneCountInString(subject); n > 1024 {
		return verdict{skip: v1alpha1.SkipSubjectMissing, message: fmt.Sprintf("subject is %d characters; the limit is 1024", n)}, "", nil
	}
	if v, loop := r.loopVerdict(wf, subject, chain); loop {
		return v, subject, nil
	}
	at, cleared, err := e.prog.StartAt(ev, now)
	if err != nil {
		return verdict{skip: v1alpha1.SkipEvaluationError, message: fmt.Sprintf("start time: %v", err)}, subject, nil
	}
	tooLate := at.UTC().After(latestStorable)
	if tooLate && !e.dateField {
		return verdict{}, subject, &request.Error{Status: http.StatusBadRequest, Message: fmt.Sprintf(
			"attribute \"time\" plus the delay of workflow %s is past the year 9999", wf.Name)}
	}
	unlock := r.locks.lock(wf.Namespace + "/" + wf.Name + "/" + subject)
	defer unlock()
	if tooLate {
		// A date no run can hold (a CRM's "never" sentinel, 9999-12-31, plus
		// a positive offset) is this workflow's business, not a bad event:
		// like a cleared date it drops the pending run, else it is a skip.
		v, done, err := r.reconcileDate(ctx, wf, subject, ev, at, true, now)
		if err != nil || (done && v != verdict{}) {
			return v, subject, err
		}
		return verdict{skip: v1alpha1.SkipEvaluationError, message: fmt.Sprintf(
			"event %s: date plus offset is past the year 9999; nothing scheduled", ev.ID)}, subject, nil
	}
	if e.dateField {
		v, done, err := r.reconcileDate(ctx, wf, subject, ev, at, cleared, now)
		if err != nil || done {
			return v, subject, err
		}
	}
	en, err := e.prog.Evaluate(ev, evalNow)
	if err != nil {
		return verdict{skip: v1alpha1.SkipEvaluationError, message: err.Error()}, subject, nil
	}
	if !en.Enroll {
		return verdict{skip: v1alpha1.SkipConditionsNotMet, message: en.Message}, subject, nil
	}
	run, err := r.newRun(ctx, e, subject, ev, chain, at, now)
	if err != nil {
		return verdict{}, subject, err
	}
	v, created, err := r.enroll(ctx, wf, run)
	if err == nil && created != nil && (e.dateField || restrictive(wf)) {
		r.recent.add(recentKey(wf.Namespace, wf.Name, subject), enrollment.Candidate(created), now)
	}
	if err == nil && created != nil && len(e.listens) > 0 {
		r.listening.add(recentKey(wf.Namespace, subject), created.Name, e.listens, now)
	}
	return v, subject, err
}

// restrictive: wf's enrollment policy looks at the subject's other runs.
func restrictive(wf *v1alpha1.Workflow) bool {
	p := wf.Spec.Enrollment.Defaulted()
	return p.Reenroll != v1alpha1.ReenrollAlways || p.Concurrency != v1alpha1.ConcurrencyAllow
}

// loopVerdict refuses enrollment past the hop limit, or when this workflow
// already acted on this subject earlier in the event's causal chain (it
// would act again, and again).
func (r *Receiver) loopVerdict(wf *v1alpha1.Workflow, subject string, chain v1alpha1.CausalChain) (verdict, bool) {
	if chain.Hops >= r.opts.MaxHops {
		return verdict{skip: v1alpha1.SkipHopLimit, message: fmt.Sprintf(
			"event is %d hops from outside crmflow; the limit is %d (chain %v)", chain.Hops, r.opts.MaxHops, chain.Links)}, true
	}
	self := wf.Namespace + "/" + wf.Name + "/" + subject
	if slices.Contains(chain.Links, self) {
		return verdict{skip: v1alpha1.SkipLoopDetected, message: fmt.Sprintf(
			"workflow %s already acted on subject %q earlier in this event's causal chain %v", wf.Name, subject, chain.Links)}, true
	}
	return verdict{}, false
}

// newRun builds the run an event enrolls (package enrollment): a reference
// to the workflow's current revision, the event, the subject, the start time
// and the causal chain.
func (r *Receiver) newRun(ctx context.Context, e *entry, subject string, ev *v1alpha1.CloudEvent, chain v1alpha1.CausalChain, at, now time.Time) (*v1alpha1.WorkflowRun, error) {
	rev, err := r.revisions.Ensure(ctx, e.wf)
	if err != nil {
		return nil, err
	}
	in := enrollment.Event{Subject: subject, Event: ev, Cause: chain}
	if e.dateField {
		in.StartAt = at
		return enrollment.ForDate(e.wf, rev, in), nil
	}
	if t := e.wf.Spec.Trigger.Event; t != nil && t.Delay != nil && at.After(now) {
		in.StartAt = at
	}
	return enrollment.ForEvent(e.wf, rev, in), nil
}

// enroll creates run unless the workflow's enrollment policy refuses it. The
// decision is the engine's (runner.Admit) over the subject's runs in the
// cache; a refusal is confirmed by reading the runs it rests on live, since
// the cache may not have seen them finish. The run controller applies the
// same policy again when it first sees the run: that is what makes it hold
// across replicas, with no per-subject lock object in etcd.
//
// It also returns the run as created, when it created one.
func (r *Receiver) enroll(ctx context.Context, wf *v1alpha1.Workflow, run *v1alpha1.WorkflowRun) (verdict, *v1alpha1.WorkflowRun, error) {
	// Fast path for duplicate deliveries: the cache already has the run.
	var existing v1alpha1.WorkflowRun
	if err := r.client.Get(ctx, client.ObjectKeyFromObject(run), &existing); err == nil {
		return duplicate(run), nil, nil
	}
	a, err := r.admit(ctx, wf, run, false)
	if err == nil && a.Verdict == runner.Skip {
		// Confirm against the API server: the cache may lag behind a finish.
		a, err = r.admit(ctx, wf, run, true)
	}
	if err != nil {
		return verdict{}, nil, err
	}
	if a.Verdict == runner.Skip {
		return verdict{skip: a.Reason, message: a.Message}, nil, nil
	}
	return r.createRun(ctx, run)
}

// admit applies the enrollment policy to run against the subject's runs, from
// the cache or, when live, with each unfinished run the cache lists re-read
// from the API server. Wait and Replace are the run controller's to act on: here they
// create the run.
func (r *Receiver) admit(ctx context.Context, wf *v1alpha1.Workflow, run *v1alpha1.WorkflowRun, live bool) (runner.Admission, error) {
	p := wf.Spec.Enrollment.Defaulted()
	if p.Reenroll == v1alpha1.ReenrollAlways && p.Concurrency == v1alpha1.ConcurrencyAllow {
		return runner.Admission{Verdict: runner.Enroll}, nil
	}
	var list v1alpha1.WorkflowRunList
	if err := r.client.List(ctx, &list, client.InNamespace(wf.Namespace),
		client.MatchingFields{index.RunByWorkflowSubject: index.WorkflowSubjectKey(wf.Name, run.Spec.Subject)}, client.UnsafeDisableDeepCopy); err != nil {
		return runner.Admission{}, fmt.Errorf("list runs of subject %q: %w", run.Spec.Subject, err)
	}
	others := make([]runner.Candidate, 0, len(list.Items))
	listed := make(map[string]bool, len(list.Items))
	for i := range list.Items {
		o := &list.Items[i]
		listed[o.Name] = true
		if !ownedBy(o, wf) {
			continue // a run of a deleted Workflow of the same name
		}
		if live && !o.Status.Phase.IsFinished() { // a finished run never starts again
			fresh := &v1alpha1.WorkflowRun{}
			err := r.live.Get(ctx, client.ObjectKeyFromObject(o), fresh)
			if apierrors.IsNotFound(err) {
				continue
			}
			if err != nil {
				return runner.Admission{}, fmt.Errorf("read run %s: %w", o.Name, err)
			}
			o = fresh
		}
		if enrollment.Counts(o) {
			others = append(others, enrollment.Candidate(o))
		}
	}
	// Runs this receiver created that the cache does not show yet.
	key := recentKey(wf.Namespace, wf.Name, run.Spec.Subject)
	r.recent.forget(key, listed)
	for _, c := range r.recent.candidates(key, r.opts.Clock.Now()) {
		if listed[c.Name] || c.Name == run.Name {
			continue
		}
		if !live {
			others = append(others, c)
			continue
		}
		fresh := &v1alpha1.WorkflowRun{}
		err := r.live.Get(ctx, types.NamespacedName{Namespace: wf.Namespace, Name: c.Name}, fresh)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return runner.Admission{}, fmt.Errorf("read run %s: %w", c.Name, err)
		}
		if enrollment.Counts(fresh) && ownedBy(fresh, wf) {
			others = append(others, enrollment.Candidate(fresh))
		}
	}
	// The new run is newer than every run that exists.
	self := runner.Candidate{Name: run.Name, Created: r.opts.Clock.Now().Add(time.Hour)}
	return refuseBehindPending(p, runner.Admit(p, self, others, run.Spec.Subject)), nil
}

// refuseBehindPending turns the run controller's Wait (an older run of the
// subject exists but is not admitted yet) into the refusal it ends in: that
// run is admitted, or refused because a run older still is active; either
// way the subject is taken when this event came. Under Replace the new run
// is created and the run controller replaces. Creating a run only for the
// run controller to cancel it would cost two writes and answer "enrolled"
// for an event that enrolls no one.
func refuseBehindPending(p v1alpha1.EnrollmentPolicy, a runner.Admission) runner.Admission {
	if a.Verdict != runner.Wait || p.Concurrency == v1alpha1.ConcurrencyReplace {
		return a
	}
	reason, rule := v1alpha1.SkipActiveRun, "concurrency is Forbid"
	if p.Concurrency == v1alpha1.ConcurrencyAllow {
		reason, rule = v1alpha1.SkipAlreadyEnrolled, "reenroll is AfterExit"
	}
	return runner.Admission{Verdict: runner.Skip, Reason: reason, Message: a.Message + "; " + rule}
}

// createRun persists run and returns it as created; AlreadyExists means a
// duplicate delivery.
func (r *Receiver) createRun(ctx context.Context, run *v1alpha1.WorkflowRun) (verdict, *v1alpha1.WorkflowRun, error) {
	created := run.DeepCopy()
	err := r.client.Create(ctx, created)
	switch {
	case apierrors.IsAlreadyExists(err):
		return duplicate(run), nil, nil
	case apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		// Retrying cannot help: the namespace and everything in it is going.
		return verdict{}, nil, &request.Error{Status: http.StatusGone, Message: fmt.Sprintf(
			"namespace %s is being deleted: no run can be created in it", run.Namespace)}
	case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
		// The API server will refuse this run however often it is sent.
		return verdict{}, nil, &request.Error{Status: http.StatusBadRequest, Message: fmt.Sprintf(
			"the event cannot be stored as a run of workflow %s: %s", run.Spec.WorkflowName, err.Error())}
	case err != nil:
		return verdict{}, nil, fmt.Errorf("create WorkflowRun %s: %w", run.Name, err)
	}
	log.FromContext(ctx).V(1).Info("enrolled", "workflow", run.Spec.WorkflowName, "run", run.Name)
	return verdict{enrolled: run.Name}, created, nil
}

func duplicate(run *v1alpha1.WorkflowRun) verdict {
	return verdict{skip: v1alpha1.SkipDuplicate, message: fmt.Sprintf("run %s already exists for this event's source and id", run.Name)}
}

// workflowKey is a workflow's namespaced name.
func workflowKey(wf *v1alpha1.Workflow) types.NamespacedName {
	return types.NamespacedName{Namespace: wf.Namespace, Name: wf.Name}
}

// ownedBy reports whether run belongs to wf, and not to a deleted Workflow
// of the same name whose runs the garbage collector has not removed yet
// (or never will, where none runs). A run naming no controller owner counts.
func ownedBy(run *v1alpha1.WorkflowRun, wf *v1alpha1.Workflow) bool {
	owner := metav1.GetControllerOf(run)
	return owner == nil || wf.UID == "" || owner.UID == wf.UID
}
