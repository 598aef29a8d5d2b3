package runner

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/crmflow/crmflow/runner/actions"
)

// missingSecretRetry is how long a step waits before its next attempt when a
// Secret or key it needs is missing, instead of the policy's backoff (1s,
// 2s, 4s, … fails a run within 20 s). A Secret applied in the same GitOps
// sync as the Workflow, or by an operator (external-secrets, sealed-secrets)
// a minute later, then lets the step go on: with the default 5 attempts it
// has about four minutes.
const missingSecretRetry = time.Minute

// secretSource reads Secret keys of the run's namespace, once per Advance
// call. In a dry run it reads nothing and yields "<secret name/key>".
type secretSource struct {
	ctx       context.Context
	reader    SecretReader
	namespace string
	dryRun    bool
	cache     map[string]map[string][]byte
}

// placeholder is what a dry run shows instead of a secret value.
func placeholder(name, key string) string { return fmt.Sprintf("<secret %s/%s>", name, key) }

// get returns one key of a Secret that the workflow's field (a path such as
// spec.connections.notify.webhookURLSecretRef) refers to. Errors name the
// field, the Secret and key, and what to do. They are retryable: a missing
// Secret may be created while the step waits for its next attempt, which
// comes after missingSecretRetry rather than the backoff.
func (s *secretSource) get(field, name, key string) (string, error) {
	if s.dryRun {
		return placeholder(name, key), nil
	}
	if s.reader == nil {
		return "", &actions.Error{Retryable: false, Err: fmt.Errorf("%s: secret %s/%s: no secret reader configured", field, s.namespace, name)}
	}
	data, ok := s.cache[name]
	if !ok {
		var err error
		data, err = s.reader.Secret(s.ctx, s.namespace, name)
		if apierrors.IsNotFound(err) {
			return "", &actions.Error{Retryable: true, RetryAfter: missingSecretRetry, Err: fmt.Errorf(
				"%s: Secret %s/%s not found (key %q); create it: kubectl -n %s create secret generic %s --from-literal=%s=<value>",
				field, s.namespace, name, key, s.namespace, name, key)}
		}
		if err != nil {
			// The reader's error names the Secret already.
			return "", &actions.Error{Retryable: true, Err: fmt.Errorf("%s: %w", field, err)}
		}
		if s.cache == nil {
			s.cache = map[string]map[string][]byte{}
		}
		s.cache[name] = data
	}
	v, ok := data[key]
	if !ok {
		return "", &actions.Error{Retryable: true, RetryAfter: missingSecretRetry, Err: fmt.Errorf(
			"%s: Secret %s/%s has no key %q (%s); add the key to the Secret", field, s.namespace, name, key, keysOf(data))}
	}
	return string(v), nil
}

// keysOf names a Secret's keys (never their values).
func keysOf(data map[string][]byte) string {
	if len(data) == 0 {
		return "it has no keys"
	}
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, fmt.Sprintf("%q", k))
	}
	sort.Strings(keys)
	return "it has " + strings.Join(keys, ", ")
}
