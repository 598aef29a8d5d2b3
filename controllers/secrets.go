package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// SecretReader reads Secrets for the engine's action executors. It reads
// through an uncached reader on purpose: caching would make the manager
// watch every Secret of the cluster, while actions read a few, rarely.
type SecretReader struct {
	// Reader is usually the manager's API reader.
	Reader client.Reader
}

// Secret returns the data of Secret name in namespace.
func (s SecretReader) Secret(ctx context.Context, namespace, name string) (map[string][]byte, error) {
	secret := &corev1.Secret{}
	if err := s.Reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, secret); err != nil {
		return nil, fmt.Errorf("read Secret %s/%s: %w", namespace, name, err)
	}
	return secret.Data, nil
}
