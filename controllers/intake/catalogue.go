package intake

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/runner"
)

// catalogue indexes Workflows by namespace and event type, maintained from
// the Workflow informer's events, so an event costs work only for the
// workflows that listen to its type. Workflows of every state are indexed:
// Paused and Draft ones are looked up to count their skips.
type catalogue struct {
	compile compileFunc

	mu     sync.RWMutex
	byName map[types.NamespacedName]*entry
	byType map[string]map[string][]*entry // namespace → event type → entries
}

// entry is one indexed Workflow with its compiled program. wf is the
// informer's object: read-only.
type entry struct {
	wf         *v1alpha1.Workflow
	prog       program
	compileErr error
	types      []string
	dateField  bool
	// listens are the event types the workflow's runs may listen to after
	// enrolling (exit goals, waitForEvent steps).
	listens []string
}

func newCatalogue(compile compileFunc) *catalogue {
	return &catalogue{compile: compile, byName: map[types.NamespacedName]*entry{}, byType: map[string]map[string][]*entry{}}
}

// lookup returns the workflows of namespace ns listening to eventType.
// The slice is shared; callers must not modify it.
func (c *catalogue) lookup(ns, eventType string) []*entry {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.byType[ns][eventType]
}

// handler keeps the catalogue in step with the Workflow informer.
func (c *catalogue) handler() toolscache.ResourceEventHandler {
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.upsert(obj) },
		UpdateFunc: func(_, obj any) { c.upsert(obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if wf, ok := obj.(*v1alpha1.Workflow); ok {
				c.remove(types.NamespacedName{Namespace: wf.Namespace, Name: wf.Name})
			}
		},
	}
}

func (c *catalogue) upsert(obj any) {
	wf, ok := obj.(*v1alpha1.Workflow)
	if !ok {
		return
	}
	key := types.NamespacedName{Namespace: wf.Namespace, Name: wf.Name}
	var eventTypes []v1alpha1.EventType
	dateField := false
	switch {
	case wf.Spec.Trigger.Event != nil:
		eventTypes = wf.Spec.Trigger.Event.Types
	case wf.Spec.Trigger.DateField != nil:
		eventTypes, dateField = wf.Spec.Trigger.DateField.Types, true
	}
	// Schedule triggers are the workflow.Reconciler's. A workflow being
	// deleted (a finalizer, or foreground deletion, holds it) enrolls no one:
	// its runs would be deleted with it, after acting.
	if len(eventTypes) == 0 || !wf.DeletionTimestamp.IsZero() {
		c.remove(key)
		return
	}
	c.mu.RLock()
	old := c.byName[key]
	c.mu.RUnlock()
	e := &entry{wf: wf, dateField: dateField, listens: runner.ListenedTypes(&wf.Spec)}
	if old != nil && old.wf.Generation == wf.Generation {
		e.prog, e.compileErr = old.prog, old.compileErr // status-only update: no recompile
	} else {
		e.prog, e.compileErr = c.compile(&wf.Spec)
	}
	for _, t := range eventTypes {
		e.types = append(e.types, string(t))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removeLocked(key)
	c.byName[key] = e
	nsIndex := c.byType[wf.Namespace]
	if nsIndex == nil {
		nsIndex = map[string][]*entry{}
		c.byType[wf.Namespace] = nsIndex
	}
	for _, t := range e.types {
		nsIndex[t] = append(nsIndex[t], e)
	}
}

func (c *catalogue) remove(key types.NamespacedName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removeLocked(key)
}

// removeLocked drops key's entry; slices are rebuilt, never edited in place,
// because lookup hands them out without a lock.
func (c *catalogue) removeLocked(key types.NamespacedName) {
	old := c.byName[key]
	if old == nil {
		return
	}
	delete(c.byName, key)
	nsIndex := c.byType[key.Namespace]
	for _, t := range old.types {
		var kept []*entry
		for _, e := range nsIndex[t] {
			if e != old {
				kept = append(kept, e)
			}
		}
		if len(kept) == 0 {
			delete(nsIndex, t)
		} else {
			nsIndex[t] = kept
		}
	}
	if len(nsIndex) == 0 {
		delete(c.byType, key.Namespace)
	}
}
