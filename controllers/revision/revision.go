// Package revision keeps the immutable revisions of Workflow specs that runs
// execute: apps/v1 ControllerRevisions owned by their Workflow and named by a
// hash of the spec, the way StatefulSets and DaemonSets keep their history.
// A run references the revision it started on (spec.workflowRevision)
// instead of carrying a copy of the spec, so creating a run writes ~1 KB, not
// the whole workflow with its validation rules.
package revision

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/lru"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// LabelRevisionOf marks the ControllerRevisions crmflow keeps; its value is
// the Workflow's LabelWorkflow value. The manager caches only revisions that
// carry it.
const LabelRevisionOf = "crmflow.io/revision-of"

// Name is the name of the revision holding wf's current spec:
// "<workflow>-<first 10 hex digits of the spec's hash>". spec.state is not
// part of it: pausing or activating a workflow changes no revision.
func Name(wf *v1alpha1.Workflow) (string, error) {
	_, name, err := encode(wf)
	return name, err
}

// encode returns the stored form of wf's spec and the revision name.
func encode(wf *v1alpha1.Workflow) ([]byte, string, error) {
	spec := wf.Spec.DeepCopy()
	spec.State = ""
	raw, err := json.Marshal(spec)
	if err != nil {
		return nil, "", fmt.Errorf("encode spec of workflow %s/%s: %w", wf.Namespace, wf.Name, err)
	}
	sum := sha256.Sum256(raw)
	prefix := wf.Name
	if len(prefix) > 200 {
		prefix = prefix[:200]
	}
	return raw, prefix + "-" + hex.EncodeToString(sum[:])[:10], nil
}

// Build returns the ControllerRevision of wf's current spec, owned by wf.
func Build(wf *v1alpha1.Workflow, scheme *runtime.Scheme) (*appsv1.ControllerRevision, error) {
	raw, name, err := encode(wf)
	if err != nil {
		return nil, err
	}
	rev := &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: wf.Namespace,
			Labels:    map[string]string{LabelRevisionOf: v1alpha1.WorkflowLabelValue(wf.Name)},
		},
		Data:     runtime.RawExtension{Raw: raw},
		Revision: wf.Generation,
	}
	if err := controllerutil.SetControllerReference(wf, rev, scheme); err != nil {
		return nil, fmt.Errorf("own revision %s by workflow: %w", name, err)
	}
	return rev, nil
}

// Store creates revisions and resolves them into specs. Specs are decoded
// once per revision (revisions never change) and kept in a bounded LRU.
type Store struct {
	// Client reads revisions from the manager's cache and creates them.
	Client client.Client
	// Live reads a revision the cache does not have yet (created a moment
	// ago by another replica).
	Live client.Reader

	// known remembers revisions known to exist, so Ensure costs no request.
	known sync.Map
	specs *lru.Cache
	once  sync.Once
}

// specCacheSize bounds the decoded specs kept in memory.
const specCacheSize = 1024

func (s *Store) cache() *lru.Cache {
	s.once.Do(func() { s.specs = lru.New(specCacheSize) })
	return s.specs
}

// Ensure makes sure the revision of wf's current spec exists and returns
// its name. After the first call for a spec it costs nothing; the first
// call costs a cache read and, for a new spec, one Create.
func (s *Store) Ensure(ctx context.Context, wf *v1alpha1.Workflow) (string, error) {
	name, err := Name(wf)
	if err != nil {
		return "", err
	}
	key := types.NamespacedName{Namespace: wf.Namespace, Name: name}
	if _, ok := s.known.Load(key); ok {
		return name, nil
	}
	existing := &appsv1.ControllerRevision{}
	err = s.Client.Get(ctx, key, existing)
	if apierrors.IsNotFound(err) {
		var rev *appsv1.ControllerRevision
		if rev, err = Build(wf, s.Client.Scheme()); err != nil {
			return "", err
		}
		err = s.Client.Create(ctx, rev)
		if apierrors.IsAlreadyExists(err) {
			err = nil
		}
	}
	if err != nil {
		return "", fmt.Errorf("ensure revision %s of workflow %s: %w", name, wf.Name, err)
	}
	s.known.Store(key, true)
	return name, nil
}

// Forget drops what the store knows of a deleted revision.
func (s *Store) Forget(key types.NamespacedName) {
	s.known.Delete(key)
	s.cache().Remove(key)
}

// ErrInvalid marks a ControllerRevision that cannot be the revision a run
// names: it belongs to another workflow, or holds no workflow spec. It is
// the run's fault, so retrying cannot help.
var ErrInvalid = errors.New("not a revision of the run's workflow")

// cachedSpec is a decoded revision and the workflow it belongs to.
type cachedSpec struct {
	spec *v1alpha1.WorkflowSpec
	of   string // the revision's LabelRevisionOf value
}

// Spec returns the workflow spec that revision name of workflow holds.
// NotFound errors are returned as they are (apierrors.IsNotFound works on
// them); a revision of another workflow, or one that holds no workflow spec,
// is an error wrapping ErrInvalid.
func (s *Store) Spec(ctx context.Context, namespace, name, workflow string) (*v1alpha1.WorkflowSpec, error) {
	key := types.NamespacedName{Namespace: namespace, Name: name}
	c, err := s.cached(ctx, key)
	if err != nil {
		return nil, err
	}
	if want := v1alpha1.WorkflowLabelValue(workflow); c.of != want {
		return nil, fmt.Errorf("revision %s is labelled %s=%q, not a revision of workflow %s: %w", key, LabelRevisionOf, c.of, workflow, ErrInvalid)
	}
	return c.spec, nil
}

func (s *Store) cached(ctx context.Context, key types.NamespacedName) (cachedSpec, error) {
	if v, ok := s.cache().Get(key); ok {
		return v.(cachedSpec), nil
	}
	rev := &appsv1.ControllerRevision{}
	err := s.Client.Get(ctx, key, rev)
	if apierrors.IsNotFound(err) && s.Live != nil {
		err = s.Live.Get(ctx, key, rev)
	}
	if err != nil {
		return cachedSpec{}, err
	}
	spec := &v1alpha1.WorkflowSpec{}
	if err := json.Unmarshal(rev.Data.Raw, spec); err != nil {
		return cachedSpec{}, fmt.Errorf("decode revision %s: %w: %w", key, err, ErrInvalid)
	}
	c := cachedSpec{spec: spec, of: rev.Labels[LabelRevisionOf]}
	s.cache().Add(key, c)
	s.known.Store(key, true)
	return c, nil
}
