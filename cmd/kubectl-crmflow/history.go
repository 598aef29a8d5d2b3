package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/internal/history"
)

func newHistoryCommand(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags, hist *historyFlags, clk clock.PassiveClock) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "history RUN",
		Short: "Show one run's step log as a timeline",
		Long: `history prints a WorkflowRun as a story: the triggering event, how each
enrollment condition evaluated, every step reached with its time, phase,
attempts and message (and a webhook's or a received event's output), what the
run waits for now, and how it ended. A run that already left the API server
is read from the run history (--history-url) and prints the same way.

Find run names with: kubectl crmflow runs WORKFLOW`,
		Example: `  kubectl crmflow history lead-follow-up-7f3c9a -n sales`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ns, err := newClient(flags)
			if err != nil {
				return err
			}
			hc, err := hist.client(flags)
			if err != nil {
				return err
			}
			return showHistory(cmd.Context(), streams.Out, c, hc, ns, args[0], clk.Now())
		},
	}
	return cmd
}

// showHistory prints run name in ns as a timeline, from the API server or,
// once it left it, from the history API when hc is set.
func showHistory(ctx context.Context, out io.Writer, c client.Reader, hc *historyClient, ns, name string, now time.Time) error {
	var run v1alpha1.WorkflowRun
	err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &run)
	if apierrors.IsNotFound(err) && hc != nil {
		var archived history.Run
		if err = hc.get(ctx, nsPath(ns, "runs", name), nil, &archived); err == nil {
			run = *archived.ToWorkflowRun()
		} else if errors.Is(err, errNotArchived) {
			err = apierrors.NewNotFound(v1alpha1.GroupVersion.WithResource("workflowruns").GroupResource(), name)
		}
	}
	if err != nil {
		if apierrors.IsNotFound(err) {
			return &exitError{code: 1, err: fmt.Errorf("run %q not found in namespace %q", name, ns)}
		}
		return fmt.Errorf("get run %s/%s: %w", ns, name, err)
	}
	printRun(out, &run, now)
	return nil
}

// printRun prints the whole story of one run.
func printRun(out io.Writer, run *v1alpha1.WorkflowRun, now time.Time) {
	fmt.Fprintf(out, "Run:        %s/%s\n", printable(run.Namespace), printable(run.Name))
	fmt.Fprintf(out, "Workflow:   %s (generation %d)\n", printable(run.Spec.WorkflowName), run.Spec.WorkflowGeneration)
	fmt.Fprintf(out, "Subject:    %s\n", orDash(run.Spec.Subject))
	if ev := run.Spec.Event; ev != nil {
		at := ""
		if ev.Time != nil {
			at = " at " + ev.Time.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(out, "Event:      %s id=%s source=%s%s\n", printable(ev.Type), printable(ev.ID), printable(ev.Source), at)
	}
	if run.Spec.ScheduledTime != nil {
		fmt.Fprintf(out, "Scheduled:  %s\n", run.Spec.ScheduledTime.UTC().Format(time.RFC3339))
	}
	if c := run.Spec.Cause; c != nil && c.Hops > 0 {
		fmt.Fprintf(out, "Caused by:  %d crmflow hop(s): %s\n", c.Hops, printable(fmt.Sprint(c.Links)))
	}
	if run.Spec.DryRun {
		fmt.Fprintln(out, "Dry run:    yes (nothing was sent)")
	}
	fmt.Fprintf(out, "Created:    %s (%s ago)\n", run.CreationTimestamp.UTC().Format(time.RFC3339), humanDuration(now.Sub(run.CreationTimestamp.Time)))
	fmt.Fprintln(out)
	printConditions(out, &run.Status)
	fmt.Fprintln(out)
	printSteps(out, &run.Status, timelineOptions{absolute: true, outputs: true})
	fmt.Fprintln(out)
	printOutcome(out, &run.Status, false)
}
