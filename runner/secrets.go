package runner

import (
	"context"
	"fmt"

	"github.com/crmflow/crmflow/runner/actions"
)

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

// get returns one key of a Secret. Errors are retryable: a missing Secret
// may be created while the step waits for its next attempt.
func (s *secretSource) get(name, key string) (string, error) {
	if s.dryRun {
		return placeholder(name, key), nil
	}
	if s.reader == nil {
		return "", &actions.Error{Retryable: false, Err: fmt.Errorf("secret %s/%s: no secret reader configured", s.namespace, name)}
	}
	data, ok := s.cache[name]
	if !ok {
		var err error
		data, err = s.reader.Secret(s.ctx, s.namespace, name)
		if err != nil {
			return "", &actions.Error{Retryable: true, Err: fmt.Errorf("read secret %s/%s: %w", s.namespace, name, err)}
		}
		if s.cache == nil {
			s.cache = map[string]map[string][]byte{}
		}
		s.cache[name] = data
	}
	v, ok := data[key]
	if !ok {
		return "", &actions.Error{Retryable: true, Err: fmt.Errorf("secret %s/%s has no key %q", s.namespace, name, key)}
	}
	return string(v), nil
}
