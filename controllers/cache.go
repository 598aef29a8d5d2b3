package controllers

import (
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/controllers/revision"
)

// CacheOptions are the manager cache options the controllers and intake
// are built for: managedFields are dropped from every cached object (the
// controllers never read them; they are a third of a run's size), and only
// crmflow's own ControllerRevisions are cached, not every StatefulSet's
// and DaemonSet's in the cluster.
func CacheOptions() cache.Options {
	ours, err := labels.NewRequirement(revision.LabelRevisionOf, selection.Exists, nil)
	if err != nil {
		panic(err) // a constant requirement: cannot fail
	}
	return cache.Options{
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&appsv1.ControllerRevision{}: {Label: labels.NewSelector().Add(*ours)},
		},
	}
}

// Shared are the pieces the Workflow and WorkflowRun controllers and intake
// share on one manager: the revision store and the run counters.
type Shared struct {
	Revisions *revision.Store
	Counters  *RunCounters
}

// NewShared builds the shared pieces on mgr's client and API reader.
func NewShared(mgr ctrl.Manager) Shared {
	return Shared{
		Revisions: &revision.Store{Client: mgr.GetClient(), Live: mgr.GetAPIReader()},
		Counters:  &RunCounters{},
	}
}
