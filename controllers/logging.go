package controllers

import (
	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// LogConstructor is a controller's per-request logger, the one
// controller-runtime's builder makes by default (controller, group and kind,
// then the object's key), except that an error that is a write conflict is
// logged at V(1) as info instead of as an error. Reconcilers return
// conflicts as errors so that the workqueue's backoff retries them from a
// fresh read; a conflict is an expected race (another writer, or a cache
// that has not seen our last write yet), not something to page about.
func LogConstructor(base logr.Logger, controller string, gvk schema.GroupVersionKind) func(*reconcile.Request) logr.Logger {
	log := QuietConflicts(base).WithValues("controller", controller, "controllerGroup", gvk.Group, "controllerKind", gvk.Kind)
	return func(req *reconcile.Request) logr.Logger {
		if req == nil {
			return log
		}
		return log.WithValues(gvk.Kind, klog.KRef(req.Namespace, req.Name), "namespace", req.Namespace, "name", req.Name)
	}
}

// QuietConflicts returns log with write conflicts logged at V(1) as info.
func QuietConflicts(log logr.Logger) logr.Logger {
	sink := log.GetSink()
	if sink == nil {
		return log
	}
	if cd, ok := sink.(logr.CallDepthLogSink); ok {
		sink = cd.WithCallDepth(1) // conflictSink's own frame: lines still name their caller
	}
	return log.WithSink(conflictSink{sink})
}

// conflictSink demotes conflict errors to V(1) info lines.
type conflictSink struct{ logr.LogSink }

// Error logs err, or, for a conflict, an info line at V(1) that carries it.
func (s conflictSink) Error(err error, msg string, kv ...any) {
	if !apierrors.IsConflict(err) {
		s.LogSink.Error(err, msg, kv...)
		return
	}
	if s.Enabled(1) {
		s.LogSink.Info(1, msg, append(kv, "error", err.Error())...)
	}
}

// Info logs through the wrapped sink, from the same call depth as Error.
func (s conflictSink) Info(level int, msg string, kv ...any) {
	s.LogSink.Info(level, msg, kv...)
}

// WithValues keeps the demotion on the derived sink.
func (s conflictSink) WithValues(kv ...any) logr.LogSink {
	return conflictSink{s.LogSink.WithValues(kv...)}
}

// WithName keeps the demotion on the derived sink.
func (s conflictSink) WithName(name string) logr.LogSink {
	return conflictSink{s.LogSink.WithName(name)}
}

// WithCallDepth passes a caller's depth on to the wrapped sink.
func (s conflictSink) WithCallDepth(depth int) logr.LogSink {
	if cd, ok := s.LogSink.(logr.CallDepthLogSink); ok {
		return conflictSink{cd.WithCallDepth(depth)}
	}
	return s
}
