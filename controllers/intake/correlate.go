package intake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/controllers/index"
	"github.com/crmflow/crmflow/controllers/revision"
	"github.com/crmflow/crmflow/runner"
)

// maxInbox is the WorkflowRun schema's limit on spec.inbox.
const maxInbox = 32

// deliverAttempts bounds the optimistic retries of one delivery.
const deliverAttempts = 10

// deliver appends ev to spec.inbox of every unfinished run in namespace ns
// whose subject is one of subjects and that listens to ev's type now (its
// current waitForEvent step or an exit goal). Runs are found through the
// cache index of unfinished runs by subject, never by listing the API
// server. Subjects are the event's subject attribute and the subjects the
// workflows listening to its type computed from it. enrolled are the runs
// ev itself just created: they do not receive it.
//
// The cache may lag in two ways, and neither loses the event:
//   - It may not yet show that a run entered its waitForEvent step: when it
//     says a run of the subject does not listen, the run is read live and
//     asked again, so a reply that arrives just after the wait began is kept.
//   - It may not show a run at all yet, when this receiver created it a
//     moment ago (an exit-goal event right behind the event that enrolled):
//     the runs this receiver created for the subject that the cache does not
//     list are read live too. A run another replica created is the other
//     replica's to remember; across replicas the gap is that replica's
//     cache lag.
//
// Delivery is intake's own channel into a run (spec.inbox); only the run
// controller writes status. Each append is one patch with the
// resourceVersion read; an event already in the inbox (same source and id)
// is not appended twice, and consuming it exactly once is the run
// controller's job.
func (r *Receiver) deliver(ctx context.Context, ns string, ev *v1alpha1.CloudEvent, subjects, enrolled []string) ([]string, error) {
	var delivered []string
	for _, subject := range subjects {
		var runs v1alpha1.WorkflowRunList
		if err := r.client.List(ctx, &runs, client.InNamespace(ns), client.MatchingFields{index.ActiveRunBySubject: subject}, client.UnsafeDisableDeepCopy); err != nil {
			return nil, fmt.Errorf("list runs of subject %q: %w", subject, err)
		}
		candidates := make([]*v1alpha1.WorkflowRun, 0, len(runs.Items))
		listed := make(map[string]bool, len(runs.Items))
		for i := range runs.Items {
			candidates = append(candidates, &runs.Items[i])
			listed[runs.Items[i].Name] = true
		}
		fresh, err := r.unlistedListeners(ctx, ns, subject, ev.Type, listed, enrolled)
		if err != nil {
			return nil, err
		}
		for _, run := range candidates {
			ok, err := r.deliverTo(ctx, run, ev, false)
			if err != nil {
				return nil, err
			}
			if ok {
				delivered = append(delivered, run.Name)
				log.FromContext(ctx).V(1).Info("delivered event to run", "run", run.Name)
			}
		}
		for _, run := range fresh {
			ok, err := r.deliverTo(ctx, run, ev, true)
			if err != nil {
				return nil, err
			}
			if ok {
				delivered = append(delivered, run.Name)
				log.FromContext(ctx).V(1).Info("delivered event to a run the cache does not show yet", "run", run.Name)
			}
		}
	}
	return delivered, nil
}

// unlistedListeners reads live the runs this receiver created for subject
// that listen to eventType and that the cache does not list as active (nor
// enrolled, the runs ev itself created). A run the cache holds after all
// (finished, so not active) or that the live read shows finished or gone
// leaves the memory: it is read at most until the cache catches up.
func (r *Receiver) unlistedListeners(ctx context.Context, ns, subject, eventType string, listed map[string]bool, enrolled []string) ([]*v1alpha1.WorkflowRun, error) {
	key := recentKey(ns, subject)
	r.listening.forget(key, listed)
	names := r.listening.unlisted(key, eventType, listed, r.opts.Clock.Now())
	if len(names) == 0 {
		return nil, nil // the usual case: nothing to read
	}
	var out []*v1alpha1.WorkflowRun
	shown := map[string]bool{}
	defer func() { r.listening.forget(key, shown) }()
	for _, name := range names {
		if slices.Contains(enrolled, name) {
			continue
		}
		nn := types.NamespacedName{Namespace: ns, Name: name}
		err := r.client.Get(ctx, nn, &v1alpha1.WorkflowRun{})
		switch {
		case err == nil:
			shown[name] = true // cached but not active: it finished
			continue
		case !apierrors.IsNotFound(err):
			return nil, fmt.Errorf("read run %s from the cache: %w", name, err)
		}
		unlisted := &v1alpha1.WorkflowRun{}
		unlisted.Namespace, unlisted.Name = ns, name
		run, err := r.readLive(ctx, unlisted)
		if err != nil {
			return nil, err
		}
		if run == nil || run.Status.Phase.IsFinished() {
			shown[name] = true
			continue
		}
		out = append(out, run)
	}
	return out, nil
}

// deliverTo appends ev to run's inbox when the run listens to it now. When
// the copy at hand is the cache's (not live) and says the run does not
// listen, but its workflow listens to ev's type at some step, the run is
// read live and asked again.
func (r *Receiver) deliverTo(ctx context.Context, run *v1alpha1.WorkflowRun, ev *v1alpha1.CloudEvent, live bool) (bool, error) {
	wants, might, err := r.wantsEvent(ctx, run, ev)
	if err != nil {
		return false, err
	}
	if !wants && might && !live {
		if run, err = r.readLive(ctx, run); err != nil || run == nil {
			return false, err
		}
		if wants, _, err = r.wantsEvent(ctx, run, ev); err != nil {
			return false, err
		}
	}
	if !wants {
		return false, nil
	}
	return r.appendInbox(ctx, run, ev)
}

// readLive re-reads a run from the API server; nil when it is gone.
func (r *Receiver) readLive(ctx context.Context, run *v1alpha1.WorkflowRun) (*v1alpha1.WorkflowRun, error) {
	fresh := &v1alpha1.WorkflowRun{}
	err := r.live.Get(ctx, client.ObjectKeyFromObject(run), fresh)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read run %s: %w", run.Name, err)
	}
	return fresh, nil
}

// wantsEvent: an unfinished run, not triggered by this very event, that
// listens to its type now. might says whether the run's workflow listens to
// the type at any step, so a run the cache shows elsewhere is worth reading live.
func (r *Receiver) wantsEvent(ctx context.Context, run *v1alpha1.WorkflowRun, ev *v1alpha1.CloudEvent) (wants, might bool, err error) {
	if run.Status.Phase.IsFinished() || run.Spec.Cancel || run.Spec.DryRun {
		return false, false, nil
	}
	if run.Spec.Event != nil && run.Spec.Event.Source == ev.Source && run.Spec.Event.ID == ev.ID {
		return false, false, nil
	}
	spec := run.Spec.Workflow
	if spec == nil {
		name := index.Revision(run)
		if name == "" {
			return false, false, nil // a test run not started yet: it listens to nothing
		}
		if spec, err = r.revisions.Spec(ctx, run.Namespace, name, run.Spec.WorkflowName); err != nil {
			if apierrors.IsNotFound(err) || errors.Is(err, revision.ErrInvalid) {
				return false, false, nil // the run controller fails it
			}
			return false, false, fmt.Errorf("revision of run %s: %w", run.Name, err)
		}
	}
	return runner.Interested(run, spec, ev), runner.ListensTo(spec, ev.Type), nil
}

// appendInbox adds ev to run's spec.inbox with optimistic concurrency,
// dropping from its front the entries the run has consumed. It reports
// false when the run finished or stopped listening meanwhile.
func (r *Receiver) appendInbox(ctx context.Context, run *v1alpha1.WorkflowRun, ev *v1alpha1.CloudEvent) (bool, error) {
	cur := run
	for range deliverAttempts {
		for _, p := range cur.Spec.Inbox {
			if p.Source == ev.Source && p.ID == ev.ID {
				return true, nil // a duplicate delivery: already in the inbox
			}
		}
		consumed := max(min(cur.Status.InboxConsumed-cur.Spec.InboxDropped, int64(len(cur.Spec.Inbox))), 0)
		inbox := append(append([]v1alpha1.CloudEvent{}, cur.Spec.Inbox[consumed:]...), *ev.DeepCopy())
		if len(inbox) > maxInbox {
			return false, fmt.Errorf("run %s already holds %d events it has not consumed", cur.Name, maxInbox)
		}
		patch, err := json.Marshal(map[string]any{
			"metadata": map[string]any{"resourceVersion": cur.ResourceVersion},
			"spec":     map[string]any{"inbox": inbox, "inboxDropped": cur.Spec.InboxDropped + consumed},
		})
		if err != nil {
			return false, fmt.Errorf("encode delivery to run %s: %w", cur.Name, err)
		}
		target := &v1alpha1.WorkflowRun{}
		target.Namespace, target.Name = cur.Namespace, cur.Name
		err = r.client.Patch(ctx, target, client.RawPatch(types.MergePatchType, patch))
		switch {
		case err == nil:
			return true, nil
		case apierrors.IsNotFound(err):
			return false, nil
		case !apierrors.IsConflict(err):
			return false, fmt.Errorf("deliver event to run %s: %w", cur.Name, err)
		}
		fresh, err := r.readLive(ctx, cur)
		if err != nil || fresh == nil {
			return false, err
		}
		wants, _, err := r.wantsEvent(ctx, fresh, ev)
		if err != nil || !wants {
			return false, err
		}
		cur = fresh
	}
	return false, fmt.Errorf("run %s kept changing while delivering an event", run.Name)
}
