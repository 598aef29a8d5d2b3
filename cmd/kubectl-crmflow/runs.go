package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

func newRunsCommand(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags, clk clock.PassiveClock) *cobra.Command {
	var limit int
	var active bool
	cmd := &cobra.Command{
		Use:   "runs WORKFLOW",
		Short: "List a workflow's recent runs",
		Long: `runs lists the WorkflowRuns of one workflow, newest first: subject, phase,
current step, result and age. Finished runs are kept until the workflow's
history limit or TTL removes them.

Read one run's step log with: kubectl crmflow history RUN`,
		Example: `  kubectl crmflow runs lead-follow-up -n sales
  kubectl crmflow runs lead-follow-up -n sales --active`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ns, err := newClient(flags)
			if err != nil {
				return err
			}
			return listRuns(cmd.Context(), streams.Out, c, ns, args[0], limit, active, clk.Now())
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 20, "show at most this many runs (0: all)")
	cmd.Flags().BoolVar(&active, "active", false, "show only runs that have not finished")
	return cmd
}

// listRuns prints the runs of workflow in ns as a table, newest first.
func listRuns(ctx context.Context, out io.Writer, c client.Reader, ns, workflow string, limit int, active bool, now time.Time) error {
	var wf v1alpha1.Workflow
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: workflow}, &wf); err != nil {
		if apierrors.IsNotFound(err) {
			return &exitError{code: 1, err: fmt.Errorf("workflow %q not found in namespace %q", workflow, ns)}
		}
		return fmt.Errorf("get workflow %s/%s: %w", ns, workflow, err)
	}
	sel := client.MatchingLabels{v1alpha1.LabelWorkflow: v1alpha1.WorkflowLabelValue(workflow)}
	var runs v1alpha1.WorkflowRunList
	if err := c.List(ctx, &runs, client.InNamespace(ns), sel); err != nil {
		return fmt.Errorf("list runs of %s/%s: %w", ns, workflow, err)
	}
	items := runs.Items
	if active {
		items = items[:0]
		for _, r := range runs.Items {
			if !r.Status.Phase.IsFinished() {
				items = append(items, r)
			}
		}
	}
	sort.SliceStable(items, func(i, j int) bool {
		return items[j].CreationTimestamp.Before(&items[i].CreationTimestamp)
	})
	if limit > 0 && len(items) > limit {
		items = items[:limit]
	}
	if len(items) == 0 {
		fmt.Fprintf(out, "No runs of workflow %s in namespace %s.\n", workflow, ns)
		fmt.Fprintln(out, `("kubectl describe workflow`, workflow+`" shows why events were skipped.)`)
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSUBJECT\tPHASE\tSTEP\tRESULT\tDRY RUN\tAGE")
	for _, r := range items {
		phase := string(r.Status.Phase)
		if phase == "" {
			phase = "Pending"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%t\t%s\n", r.Name, orDash(r.Spec.Subject), phase,
			orDash(r.Status.CurrentStep), orDash(r.Status.Result), r.Spec.DryRun, humanDuration(now.Sub(r.CreationTimestamp.Time)))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
