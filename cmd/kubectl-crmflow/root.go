package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// NewRootCommand builds `kubectl crmflow` with its subcommands. The clock
// decides "now" for commands that need it (ages, simulations without an event time).
func NewRootCommand(streams genericiooptions.IOStreams, clk clock.PassiveClock) *cobra.Command {
	flags := genericclioptions.NewConfigFlags(true)
	hist := &historyFlags{}
	root := &cobra.Command{
		Use:   "kubectl-crmflow",
		Short: "Test, trigger and inspect crmflow workflows",
		Long: `kubectl crmflow works with crmflow, the operator that turns CRM CloudEvents
into automated work (TRIGGER -> CONDITIONS -> STEPS).

  test     run a workflow (a file, or the cluster's) against an event offline and print the plan
  send     post a CloudEvent to the crmflow receiver
  runs     list a workflow's runs, live and archived
  history  show one run's step log as a timeline, live or archived
  contact  show everything crmflow did to one contact, across workflows
  stats    print a workflow's analytics per day
  ui       serve the web console on 127.0.0.1 with your kubeconfig's identity

Finished runs leave the API server for crmflow's run history store; runs,
history, contact and stats read it when --history-url (or
$CRMFLOW_HISTORY_URL) points at its API, with your own Kubernetes credentials.

The usual kubectl flags (--kubeconfig, --context, -n/--namespace, ...) apply.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.CompletionOptions.HiddenDefaultCmd = true
	flags.AddFlags(root.PersistentFlags())
	hist.addFlags(root.PersistentFlags())
	root.AddCommand(
		newTestCommand(streams, flags, clk),
		newSendCommand(streams, flags, clk),
		newRunsCommand(streams, flags, hist, clk),
		newHistoryCommand(streams, flags, hist, clk),
		newContactCommand(streams, flags, hist, clk),
		newStatsCommand(streams, flags, hist, clk),
		newUICommand(streams, flags, clk),
	)
	return root
}

// exitError carries a specific exit code (1 for a workflow that does not
// compile, for example) out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// exitCode is 1 for failures the command explains, 2 otherwise (bad usage, I/O).
func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 2
}

// newClient builds a controller-runtime client from the kubectl flags and
// returns it with the namespace to work in.
func newClient(flags *genericclioptions.ConfigFlags) (client.Client, string, error) {
	cfg, err := flags.ToRESTConfig()
	if err != nil {
		return nil, "", fmt.Errorf("load kubeconfig: %w", err)
	}
	ns, _, err := flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, "", fmt.Errorf("resolve namespace: %w", err)
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, "", fmt.Errorf("register Kubernetes types: %w", err)
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return nil, "", fmt.Errorf("register crmflow types: %w", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, "", fmt.Errorf("create client: %w", err)
	}
	return c, ns, nil
}
