package intake

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/controllers/intake/request"
)

// Intake watches only Secrets named crmflow-intake (its cache lists and
// watches with the field selector metadata.name=crmflow-intake), so its
// permission names that one Secret: RBAC authorizes a list or watch
// restricted by resourceNames when the request carries that field selector.
// +kubebuilder:rbac:groups="",resources=secrets,resourceNames=crmflow-intake,verbs=get;list;watch

// credentials returns namespace ns's configured credentials. It fails
// closed: a crmflow-intake Secret that exists but yields no usable
// credential (misspelt keys, empty values) refuses every request and raises
// a Warning Event on the Secret. An unknown namespace refuses like a
// protected one, so that whether it exists is not told before
// authentication. Only a namespace without the Secret is open.
func (r *Receiver) credentials(ctx context.Context, ns string) (request.Credentials, error) {
	creds := request.Credentials{Namespace: ns, Clock: r.opts.Clock, Tolerance: r.opts.SignatureTolerance}
	var namespace corev1.Namespace
	if err := r.tenants.Get(ctx, types.NamespacedName{Name: ns}, &namespace); err != nil {
		if apierrors.IsNotFound(err) {
			log.FromContext(ctx).V(1).Info("event posted to an unknown namespace; refused as unauthenticated", "namespace", ns)
			creds.Unknown = true
			return creds, nil
		}
		return creds, fmt.Errorf("read namespace %q: %w", ns, err)
	}
	var secret corev1.Secret
	err := r.tenants.Get(ctx, types.NamespacedName{Namespace: ns, Name: request.SecretName}, &secret)
	switch {
	case apierrors.IsNotFound(err):
		return creds, nil
	case err != nil:
		return creds, fmt.Errorf("read Secret %s/%s: %w", ns, request.SecretName, err)
	}
	// A value written with `echo > file` ends in a newline nobody sends.
	creds.Token = bytes.TrimSpace(secret.Data[request.TokenKey])
	creds.HMACKey = bytes.TrimSpace(secret.Data[request.HMACKey])
	if len(creds.Token) == 0 {
		creds.Token = nil
	}
	if len(creds.HMACKey) == 0 {
		creds.HMACKey = nil
	}
	if creds.Token == nil && creds.HMACKey == nil {
		creds.Unusable = unusableMessage(ns, &secret)
		if r.opts.Recorder != nil {
			// The events recorder folds repeats into one series, so a
			// flood of refused requests costs no flood of writes.
			r.opts.Recorder.Eventf(&secret, nil, corev1.EventTypeWarning, v1alpha1.ReasonUnusableCredential.String(), "Authenticate", "%s", creds.Unusable)
		}
	}
	return creds, nil
}

// unusableMessage tells an operator what is wrong with the Secret and what
// to do, naming its keys (never their values).
func unusableMessage(ns string, s *corev1.Secret) string {
	keys := make([]string, 0, len(s.Data))
	for k := range s.Data {
		keys = append(keys, fmt.Sprintf("%q", k))
	}
	sort.Strings(keys)
	found := "no keys"
	if len(keys) > 0 {
		found = "keys " + strings.Join(keys, ", ")
	}
	return fmt.Sprintf("namespace %q refuses every event: its Secret %s holds no usable credential (%s; expected a non-empty %q and/or %q). "+
		"Fix the Secret's keys, or delete it to accept unauthenticated events", ns, request.SecretName, found, request.TokenKey, request.HMACKey)
}
