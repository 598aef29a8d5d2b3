// Command kubectl-crmflow is the `kubectl crmflow` plugin: try a workflow
// offline against a sample event (test), send a CloudEvent to the receiver
// (send), list a workflow's recent runs (runs) and read one run's step log
// as a timeline (history).
//
// Install it on the PATH (go install ./cmd/kubectl-crmflow, or make plugin
// and add bin/ to PATH) and kubectl finds it by name.
package main

import (
	"fmt"
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/utils/clock"
)

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	cmd := NewRootCommand(streams, clock.RealClock{})
	if err := cmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(exitCode(err))
	}
}
