package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/utils/clock"

	"github.com/crmflow/crmflow/internal/history"
)

func newStatsCommand(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags, hist *historyFlags, clk clock.PassiveClock) *cobra.Command {
	var days int
	cmd := &cobra.Command{
		Use:   "stats WORKFLOW",
		Short: "Print a workflow's analytics per day",
		Long: `stats prints a workflow's performance from the run history, per UTC day of
enrollment: runs enrolled, completed, failed, cancelled, ended by a goal, the
conversion rate (goal reached / enrolled), and per step how often it was
reached, succeeded, failed or was skipped. It counts archived runs (those
finished and moved out of the API server), so it needs --history-url.`,
		Example: `  kubectl crmflow stats vip-routing -n sales
  kubectl crmflow stats lead-follow-up -n sales --days 90`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if days < 1 || days > 400 {
				return fmt.Errorf("--days: must be from 1 to 400, got %d", days)
			}
			ns, _, err := flags.ToRawKubeConfigLoader().Namespace()
			if err != nil {
				return fmt.Errorf("resolve namespace: %w", err)
			}
			hc, err := hist.client(flags)
			if err != nil {
				return err
			}
			if hc == nil {
				return &exitError{code: 1, err: fmt.Errorf("stats reads the run history: set --history-url or $CRMFLOW_HISTORY_URL")}
			}
			return showStats(cmd.Context(), streams.Out, hc, ns, args[0], days, clk.Now())
		},
	}
	cmd.Flags().IntVar(&days, "days", 30, "how many days back, up to today")
	return cmd
}

// showStats prints workflow's analytics for the last days days.
func showStats(ctx context.Context, out io.Writer, hc *historyClient, ns, workflow string, days int, now time.Time) error {
	to := now.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	from := to.Add(-time.Duration(days) * 24 * time.Hour)
	var a history.Analytics
	q := url.Values{"from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}}
	if err := hc.get(ctx, nsPath(ns, "workflows", workflow, "analytics"), q, &a); err != nil {
		return err
	}
	fmt.Fprintf(out, "Workflow %s/%s, runs enrolled %s .. %s (UTC)\n\n", ns, workflow, from.Format(time.DateOnly), to.Add(-time.Second).Format(time.DateOnly))
	if len(a.Days) == 0 {
		fmt.Fprintln(out, "No archived runs in this period.")
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "DAY\tENROLLED\tCOMPLETED\tFAILED\tCANCELLED\tGOAL REACHED\tCONVERSION\t")
	row := func(d history.DayStats, label string) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%.1f%%\t\n", label, d.Enrolled, d.Completed, d.Failed, d.Cancelled, d.GoalReached, 100*d.ConversionRate)
	}
	for _, d := range a.Days {
		row(d, d.Day)
	}
	row(a.Total, "total")
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(a.Total.Steps) == 0 {
		return nil
	}
	fmt.Fprintln(out, "\nSteps (total):")
	tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "STEP\tREACHED\tSUCCEEDED\tFAILED\tSKIPPED\t")
	for _, s := range a.Total.Steps {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t\n", printable(s.Name), s.Reached, s.Succeeded, s.Failed, s.Skipped)
	}
	return tw.Flush()
}
