package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/internal/history"
)

func newContactCommand(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags, hist *historyFlags, clk clock.PassiveClock) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "contact SUBJECT",
		Short: "Show everything crmflow did to one contact, across workflows",
		Long: `contact prints one subject's timeline (usually a contact id): every run
about it in the namespace, across workflows, newest first, with each run's
steps and outcome; live runs from the API server, finished ones from the run
history (--history-url). With the history it also lists the events that did
not enroll a workflow for this subject, and why ("why didn't it fire?").

Read one run's whole log with: kubectl crmflow history RUN`,
		Example: `  kubectl crmflow contact c-42 -n sales
  kubectl crmflow contact c-42 -n sales --history-url https://localhost:8444 --limit 100`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 || limit > history.MaxLimit {
				return fmt.Errorf("--limit: must be from 1 to %d, got %d", history.MaxLimit, limit)
			}
			c, ns, err := newClient(flags)
			if err != nil {
				return err
			}
			hc, err := hist.client(flags)
			if err != nil {
				return err
			}
			return showContact(cmd.Context(), streams.Out, c, hc, ns, args[0], limit, clk.Now())
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 50, "show at most this many runs and skipped events")
	return cmd
}

// showContact prints subject's runs (live and archived) and skipped events.
func showContact(ctx context.Context, out io.Writer, c client.Reader, hc *historyClient, ns, subject string, limit int, now time.Time) error {
	var live v1alpha1.WorkflowRunList
	if err := c.List(ctx, &live, client.InNamespace(ns)); err != nil {
		return fmt.Errorf("list runs in %s: %w", ns, err)
	}
	var runs []v1alpha1.WorkflowRun
	for i := range live.Items {
		r := &live.Items[i]
		if r.Spec.Subject == subject {
			runs = append(runs, *r)
		}
	}
	var skips []history.Skip
	if hc != nil {
		var page history.RunPage
		q := url.Values{"subject": {subject}, "limit": {strconv.Itoa(limit)}}
		if err := hc.get(ctx, nsPath(ns, "timeline"), q, &page); err != nil {
			return err
		}
		var archived []v1alpha1.WorkflowRun
		for i := range page.Runs {
			archived = append(archived, *page.Runs[i].ToWorkflowRun())
		}
		runs = mergeRuns(runs, archived)
		var answer struct {
			Skips []history.Skip `json:"skips"`
		}
		if err := hc.get(ctx, nsPath(ns, "skips"), q, &answer); err != nil {
			return err
		}
		skips = answer.Skips
	}
	sort.SliceStable(runs, func(i, j int) bool { return runs[j].CreationTimestamp.Before(&runs[i].CreationTimestamp) })
	if len(runs) > limit {
		runs = runs[:limit]
	}
	fmt.Fprintf(out, "Contact %s in namespace %s\n\n", printable(subject), printable(ns))
	if len(runs) == 0 {
		fmt.Fprintln(out, "Runs: none")
	} else {
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "WHEN\tAGE\tWORKFLOW\tRUN\tPHASE\tRESULT\tSTEPS")
		for i := range runs {
			r := &runs[i]
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.CreationTimestamp.UTC().Format(time.RFC3339),
				humanDuration(now.Sub(r.CreationTimestamp.Time)), printable(r.Spec.WorkflowName), printable(r.Name), orDash(string(r.Status.Phase)),
				orDash(r.Status.Result.String()), stepSummary(r.Status.Steps))
		}
		_ = tw.Flush()
	}
	if hc == nil {
		fmt.Fprintln(out, "\n(Live runs only: set --history-url to include archived runs and skipped events.)")
		return nil
	}
	fmt.Fprintln(out)
	if len(skips) == 0 {
		fmt.Fprintln(out, "Not enrolled: no skipped events recorded")
		return nil
	}
	fmt.Fprintln(out, "Not enrolled:")
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WHEN\tWORKFLOW\tREASON\tEVENT\tMESSAGE")
	for i := range skips {
		s := &skips[i]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Time.UTC().Format(time.RFC3339), printable(s.Workflow), printable(s.Reason), orDash(s.EventID), oneLine(s.Message, 120))
	}
	return tw.Flush()
}

// stepSummary lists a run's steps as name=phase, capped.
func stepSummary(steps []v1alpha1.StepStatus) string {
	if len(steps) == 0 {
		return "-"
	}
	parts := make([]string, 0, len(steps))
	for i := range steps {
		s := &steps[i]
		parts = append(parts, s.Name+"="+string(s.Phase))
	}
	return oneLine(strings.Join(parts, " "), 100)
}
