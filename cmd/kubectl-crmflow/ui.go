package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/utils/clock"

	"github.com/crmflow/crmflow/internal/console"
	"github.com/crmflow/crmflow/runner"
)

// defaultUIPort is the port of `kubectl crmflow ui`: not make dev's console
// (127.0.0.1:8089), so both can run side by side.
const defaultUIPort = 8088

// uiOptions are the flags of `kubectl crmflow ui`.
type uiOptions struct {
	port       int
	crmSinkURL string
	history    historyFlags
}

func newUICommand(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags, clk clock.PassiveClock) *cobra.Command {
	o := &uiOptions{}
	cmd := &cobra.Command{
		Use:   "ui [--port 8088]",
		Short: "Serve the crmflow console on 127.0.0.1 with your kubeconfig's identity",
		Long: `ui serves crmflow's web console on 127.0.0.1 only: the workflow list, the
builder (every change validated by the API server's dry run), Test on a sample
contact, Activate/Pause and run timelines. Every Kubernetes call is made with
the identity of your kubeconfig (the usual --kubeconfig/--context flags apply),
so the console can do exactly what kubectl can, nothing more.

With --history-url (or $CRMFLOW_HISTORY_URL), runs that have left the cluster
are read from crmflow's run history API, with the same identity.

Stop it with Ctrl-C.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return o.run(ctx, streams.Out, flags, clk)
		},
	}
	cmd.Flags().IntVar(&o.port, "port", defaultUIPort, "port on 127.0.0.1 (0 picks a free one)")
	cmd.Flags().StringVar(&o.crmSinkURL, "crm-sink-url", "https://crm-sink.invalid/", "the CRM sink Test renders contact and CRM commands for (nothing is sent)")
	o.history.addFlags(cmd.Flags())
	return cmd
}

func (o *uiOptions) run(ctx context.Context, out io.Writer, flags *genericclioptions.ConfigFlags, clk clock.PassiveClock) error {
	c, ns, err := newClient(flags)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(o.port)))
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("port %d on 127.0.0.1 is in use (another kubectl crmflow ui, or make dev's console?): "+
			"choose another with --port, or --port 0 for a free one: %w", o.port, err)
	}
	if err != nil {
		return fmt.Errorf("listen on 127.0.0.1:%d: %w", o.port, err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	opts := console.Options{
		Listener: ln, Scheme: c.Scheme(), Engine: runner.New(runner.Options{CRMSinkURL: o.crmSinkURL}),
		Clock: clk, DefaultNamespace: ns,
		AllowedHosts: []string{fmt.Sprintf("127.0.0.1:%d", port), fmt.Sprintf("localhost:%d", port)},
	}
	hc, err := o.history.client(flags)
	if err != nil {
		_ = ln.Close()
		return err
	}
	if hc != nil { // finished runs that left etcd are read from the run history
		opts.History = hc.api
	}
	srv, err := console.NewLocal(c, opts)
	if err != nil {
		_ = ln.Close()
		return err
	}
	fmt.Fprintf(out, "crmflow console: http://127.0.0.1:%d/ (namespace %s; Ctrl-C to stop)\n", port, ns)
	return srv.Start(ctx)
}
