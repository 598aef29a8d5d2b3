package main

import (
	"fmt"
	"os"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// writeKubeconfig writes an admin kubeconfig for the local API server.
func writeKubeconfig(env *envtest.Environment, path string) error {
	user, err := env.ControlPlane.AddUser(envtest.User{Name: "crmflow-dev", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("create dev user: %w", err)
	}
	raw, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("render kubeconfig: %w", err)
	}
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	say("wrote kubeconfig %s", path)
	return nil
}
