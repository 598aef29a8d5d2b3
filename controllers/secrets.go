package controllers

import (
	"context"
	"fmt"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"k8s.io/utils/lru"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// SecretReader reads Secrets for the engine's action executors. It reads
// through an uncached reader on purpose: an informer would make the manager
// watch every Secret of the cluster, while actions read a few. What it read
// it may reuse for MaxAge, so that a busy workflow whose every run notifies
// through the same Secret does not cost the API server a read per run.
type SecretReader struct {
	// Reader is usually the manager's API reader.
	Reader client.Reader
	// MaxAge is how long a Secret read is reused: a changed or deleted
	// Secret takes effect within it. Zero reads the Secret for every action.
	MaxAge time.Duration
	// Clock is the source of "now" for MaxAge.
	Clock clock.PassiveClock

	recent *lru.Cache // types.NamespacedName → readSecret; nil when MaxAge is 0
}

// readSecret is a Secret's data and when it was read.
type readSecret struct {
	data map[string][]byte
	at   time.Time
}

// maxRecentSecrets bounds how many Secrets a SecretReader keeps.
const maxRecentSecrets = 1024

// NewSecretReader returns a SecretReader that reuses what it read for maxAge.
func NewSecretReader(reader client.Reader, maxAge time.Duration, clk clock.PassiveClock) *SecretReader {
	s := &SecretReader{Reader: reader, MaxAge: maxAge, Clock: clk}
	if maxAge > 0 {
		s.recent = lru.New(maxRecentSecrets)
	}
	return s
}

// Secret returns the data of Secret name in namespace. The caller may not
// modify it.
func (s *SecretReader) Secret(ctx context.Context, namespace, name string) (map[string][]byte, error) {
	key := types.NamespacedName{Namespace: namespace, Name: name}
	if s.recent != nil {
		if v, ok := s.recent.Get(key); ok {
			if e := v.(readSecret); s.Clock.Since(e.at) < s.MaxAge {
				return e.data, nil
			}
		}
	}
	secret := &corev1.Secret{}
	if err := s.Reader.Get(ctx, key, secret); err != nil {
		return nil, fmt.Errorf("read Secret %s/%s: %w", namespace, name, err)
	}
	if s.recent != nil {
		// A copy: the reader may hand out an object others hold.
		s.recent.Add(key, readSecret{data: maps.Clone(secret.Data), at: s.Clock.Now()})
	}
	return secret.Data, nil
}
