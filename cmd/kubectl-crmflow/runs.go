package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/internal/history"
)

func newRunsCommand(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags, hist *historyFlags, clk clock.PassiveClock) *cobra.Command {
	var limit int
	var active bool
	cmd := &cobra.Command{
		Use:   "runs WORKFLOW",
		Short: "List a workflow's runs, live and archived",
		Long: `runs lists the WorkflowRuns of one workflow, newest first: subject, phase,
current step, result and age. Live runs come from the API server; finished
runs that were archived come from the run history (--history-url), so the
list goes back the history's retention (90 days by default).

Read one run's step log with: kubectl crmflow history RUN`,
		Example: `  kubectl crmflow runs lead-follow-up -n sales
  kubectl crmflow runs lead-follow-up -n sales --active`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ns, err := newClient(flags)
			if err != nil {
				return err
			}
			hc, err := hist.client(flags)
			if err != nil {
				return err
			}
			return listRuns(cmd.Context(), streams.Out, c, hc, ns, args[0], limit, active, clk.Now())
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 20, "show at most this many runs (0: all)")
	cmd.Flags().BoolVar(&active, "active", false, "show only runs that have not finished")
	return cmd
}

// listRuns prints the runs of workflow in ns as a table, newest first: the
// live ones from the API server and, unless only active runs are asked for,
// the archived ones from the history API when hc is set.
func listRuns(ctx context.Context, out io.Writer, c client.Reader, hc *historyClient, ns, workflow string, limit int, active bool, now time.Time) error {
	var wf v1alpha1.Workflow
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: workflow}, &wf); err != nil {
		if apierrors.IsNotFound(err) && hc == nil {
			return &exitError{code: 1, err: fmt.Errorf("workflow %q not found in namespace %q", workflow, ns)}
		}
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("get workflow %s/%s: %w", ns, workflow, err)
		}
	}
	// spec.workflowName is a selectable field of the CRD: the API server
	// filters on the name itself, so every run of the workflow is listed,
	// whatever its name's length and whoever created it (a test run a
	// person wrote carries no crmflow labels).
	sel := client.MatchingFields{"spec.workflowName": workflow}
	var runs v1alpha1.WorkflowRunList
	if err := c.List(ctx, &runs, client.InNamespace(ns), sel); err != nil {
		return fmt.Errorf("list runs of %s/%s: %w", ns, workflow, err)
	}
	items := runs.Items
	if active {
		items = items[:0]
		for i := range runs.Items {
			if r := &runs.Items[i]; !r.Status.Phase.IsFinished() {
				items = append(items, *r)
			}
		}
	}
	if hc != nil && !active {
		archived, err := archivedRuns(ctx, hc, ns, workflow, limit)
		if err != nil {
			return err
		}
		items = mergeRuns(items, archived)
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
	for i := range items {
		r := &items[i]
		phase := string(r.Status.Phase)
		if phase == "" {
			phase = "Pending"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%t\t%s\n", printable(r.Name), orDash(r.Spec.Subject), printable(phase),
			orDash(r.Status.CurrentStep), orDash(r.Status.Result.String()), r.Spec.DryRun, humanDuration(now.Sub(r.CreationTimestamp.Time)))
	}
	return tw.Flush()
}

// orDash prints s with printable, or "-" for an empty s.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return printable(s)
}

// archivedRuns reads up to limit (0: all) archived runs of workflow.
func archivedRuns(ctx context.Context, hc *historyClient, ns, workflow string, limit int) ([]v1alpha1.WorkflowRun, error) {
	var out []v1alpha1.WorkflowRun
	q := url.Values{"limit": {strconv.Itoa(history.MaxLimit)}}
	for {
		var page history.RunPage
		if err := hc.get(ctx, nsPath(ns, "workflows", workflow, "runs"), q, &page); err != nil {
			return nil, err
		}
		for i := range page.Runs {
			out = append(out, *page.Runs[i].ToWorkflowRun())
		}
		if page.Next == "" || (limit > 0 && len(out) >= limit) {
			return out, nil
		}
		q.Set("continue", page.Next)
	}
}

// mergeRuns adds the archived runs that are not also live (a run is both
// during the moment between its archiving and its deletion).
func mergeRuns(live, archived []v1alpha1.WorkflowRun) []v1alpha1.WorkflowRun {
	seen := make(map[types.UID]bool, len(live))
	for i := range live {
		seen[live[i].UID] = true
	}
	for i := range archived {
		if !seen[archived[i].UID] {
			live = append(live, archived[i])
		}
	}
	return live
}
