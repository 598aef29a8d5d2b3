package main

import (
	"context"
	"fmt"
	"net"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/internal/console"
	"github.com/crmflow/crmflow/internal/controlplane"
	"github.com/crmflow/crmflow/runner"
)

// startConsole serves the web console on addr as `kubectl crmflow ui`
// does: with the dev kubeconfig's (admin) identity, on 127.0.0.1 only, and,
// when historyURL is set, the manager's run history API (trusting caFile)
// for runs that have left etcd. It returns the console's URL; it stops
// when ctx ends.
func startConsole(ctx context.Context, cfg *rest.Config, addr, namespace, sinkURL, historyURL, caFile string) (string, error) {
	scheme, err := controlplane.Scheme()
	if err != nil {
		return "", err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return "", fmt.Errorf("console client: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("console listen on %s: %w", addr, err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	opts := console.Options{
		Listener: ln, Scheme: scheme, Engine: runner.New(runner.Options{CRMSinkURL: sinkURL}), DefaultNamespace: namespace,
		AllowedHosts: []string{ln.Addr().String(), fmt.Sprintf("localhost:%d", port)},
	}
	if historyURL != "" {
		if opts.History, err = console.NewHTTPHistory(historyURL, cfg, caFile, false); err != nil {
			_ = ln.Close()
			return "", err
		}
	}
	srv, err := console.NewLocal(c, opts)
	if err != nil {
		_ = ln.Close()
		return "", err
	}
	go func() {
		if err := srv.Start(ctx); err != nil {
			say("console stopped: %v", err)
		}
	}()
	return "http://" + ln.Addr().String() + "/", nil
}
