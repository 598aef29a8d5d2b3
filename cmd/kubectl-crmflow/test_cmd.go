package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/utils/clock"
	"sigs.k8s.io/yaml"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/runner"
)

// testOptions are the flags of `kubectl crmflow test`.
type testOptions struct {
	workflowFile string
	eventFile    string
	replyFiles   []string
	now          string
	crmSinkURL   string
	details      bool
}

func newTestCommand(streams genericiooptions.IOStreams, clk clock.PassiveClock) *cobra.Command {
	o := &testOptions{}
	cmd := &cobra.Command{
		Use:   "test -f WORKFLOW.yaml --event EVENT.json [--reply EVENT.json]...",
		Short: "Run a workflow offline against a sample event and print the plan",
		Long: `test runs a Workflow through crmflow's engine offline, as a dry run: it
compiles every expression and template, evaluates the conditions against the
sample event, and walks the steps with a virtual clock, rendering every action
without sending anything. Waits are skipped ("would wait 1h"); a waitForEvent
step takes the next --reply event, or times out when none is left.

Nothing talks to a cluster: the Workflow may be a Draft, and Secrets are not read.

The event file is a CloudEvent in the CloudEvents JSON format (YAML works too):

  {"specversion": "1.0", "id": "evt-1", "source": "crm.example.com",
   "type": "lead.created", "subject": "c-42", "time": "2026-03-02T10:00:00Z",
   "data": {"lead": {"source": "Website", "contactId": "c-42"},
            "contact": {"email": "ann@example.com", "firstName": "Ann"}}}

Exit status: 0 when the workflow compiles (whether or not the event enrols),
1 when it does not compile (the errors name each field and position), 2 for
unreadable input.`,
		Example: `  # What would the lead follow-up do for this lead?
  kubectl crmflow test -f config/samples/crmflow_v1alpha1_lead-follow-up.yaml --event lead.json

  # ... if the lead replied to the welcome email?
  kubectl crmflow test -f lead-follow-up.yaml --event lead.json --reply reply.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), streams.Out, clk)
		},
	}
	cmd.Flags().StringVarP(&o.workflowFile, "filename", "f", "", "the Workflow to test (YAML or JSON)")
	cmd.Flags().StringVar(&o.eventFile, "event", "", "the triggering CloudEvent (CloudEvents JSON format)")
	cmd.Flags().StringArrayVar(&o.replyFiles, "reply", nil, "a CloudEvent that answers the next waitForEvent step (repeatable, in order)")
	cmd.Flags().StringVar(&o.now, "now", "", "the simulation's start time, RFC 3339 (default: the event's time, else the current time)")
	cmd.Flags().StringVar(&o.crmSinkURL, "crm-sink-url", "https://crm-sink.invalid/", "the CRM sink contact and CRM commands are rendered for (nothing is sent; set it to the manager's --crm-sink-url to see the real target)")
	cmd.Flags().BoolVar(&o.details, "details", false, "print each step's rendered request (output) under it")
	_ = cmd.MarkFlagRequired("filename")
	_ = cmd.MarkFlagRequired("event")
	return cmd
}

func (o *testOptions) run(ctx context.Context, out io.Writer, clk clock.PassiveClock) error {
	wf, err := readWorkflow(o.workflowFile)
	if err != nil {
		return err
	}
	ev, err := readEventFile(o.eventFile)
	if err != nil {
		return err
	}
	var replies []v1alpha1.CloudEvent
	for _, f := range o.replyFiles {
		r, err := readEventFile(f)
		if err != nil {
			return err
		}
		replies = append(replies, *r)
	}
	now := clk.Now()
	switch {
	case o.now != "":
		if now, err = time.Parse(time.RFC3339, o.now); err != nil {
			return fmt.Errorf("--now %q is not RFC 3339: %w", o.now, err)
		}
	case ev.Time != nil:
		now = ev.Time.Time
	}

	eng := runner.New(runner.Options{CRMSinkURL: o.crmSinkURL})
	prog, err := eng.Compile(&wf.Spec)
	if err != nil {
		return compileFailure(o.workflowFile, err)
	}
	fmt.Fprintf(out, "Workflow:   %s (%s)\n", wf.Name, describeTrigger(&wf.Spec.Trigger))
	if wf.Spec.Description != "" {
		fmt.Fprintf(out, "            %s\n", oneLine(wf.Spec.Description, 120))
	}
	fmt.Fprintf(out, "Event:      %s id=%s source=%s\n", ev.Type, ev.ID, ev.Source)
	if !prog.Triggers(ev) {
		fmt.Fprintf(out, "\nThis event does not trigger the workflow: its type %q is not among %s.\n", ev.Type, describeTrigger(&wf.Spec.Trigger))
		return nil
	}
	subject, err := prog.Subject(ev, now)
	if err != nil {
		fmt.Fprintf(out, "\nNo run: the subject cannot be determined: %v\n", err)
		return nil
	}
	fmt.Fprintf(out, "Subject:    %s\n", subject)
	if wf.Spec.Trigger.DateField != nil {
		at, cleared, err := prog.StartAt(ev, now)
		switch {
		case err != nil:
			fmt.Fprintf(out, "Scheduled:  cannot tell: %v\n", err)
		case cleared:
			fmt.Fprintln(out, "Scheduled:  no date in the event: a scheduled run would be dropped")
		default:
			fmt.Fprintf(out, "Scheduled:  %s\n", at.UTC().Format(time.RFC3339))
		}
	}
	status, err := eng.Simulate(ctx, &wf.Spec, ev, replies, now)
	if err != nil {
		return compileFailure(o.workflowFile, err)
	}
	fmt.Fprintln(out)
	printConditions(out, &status)
	fmt.Fprintln(out)
	printSteps(out, &status, timelineOptions{plan: true, outputs: o.details})
	fmt.Fprintln(out)
	printOutcome(out, &status, true)
	return nil
}

// readWorkflow reads a Workflow manifest, refusing unknown fields as the API server does.
func readWorkflow(path string) (*v1alpha1.Workflow, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read workflow: %w", err)
	}
	var wf v1alpha1.Workflow
	if err := yaml.UnmarshalStrict(raw, &wf); err != nil {
		return nil, &exitError{code: 1, err: fmt.Errorf("%s is not a valid Workflow: %w", path, err)}
	}
	if wf.Kind != "" && wf.Kind != "Workflow" {
		return nil, &exitError{code: 1, err: fmt.Errorf("%s holds a %s, not a Workflow", path, wf.Kind)}
	}
	return &wf, nil
}

// compileFailure turns an engine error into the command's answer: every
// problem on its own line, exit status 1.
func compileFailure(file string, err error) error {
	var ce *runner.CompileError
	if errors.As(err, &ce) {
		lines := make([]string, 0, len(ce.Problems))
		for _, p := range ce.Problems {
			lines = append(lines, "  "+p.Field+": "+p.Message)
		}
		return &exitError{code: 1, err: fmt.Errorf("%s does not compile:\n%s", file, strings.Join(lines, "\n"))}
	}
	return &exitError{code: 1, err: err}
}

// describeTrigger says what starts the workflow, for people.
func describeTrigger(t *v1alpha1.Trigger) string {
	types := func(ts []v1alpha1.EventType) string {
		s := make([]string, len(ts))
		for i, x := range ts {
			s[i] = string(x)
		}
		return strings.Join(s, ", ")
	}
	switch {
	case t.Event != nil:
		d := "on " + types(t.Event.Types)
		if t.Event.Delay != nil {
			d += " after " + string(*t.Event.Delay)
		}
		return d
	case t.Schedule != nil:
		return fmt.Sprintf("on schedule %q in %s", t.Schedule.Cron, orUTC(t.Schedule.TimeZone))
	case t.DateField != nil:
		return fmt.Sprintf("at %s %s, from %s", t.DateField.Field, orZero(string(t.DateField.Offset)), types(t.DateField.Types))
	}
	return "no trigger"
}

func orUTC(tz string) string {
	if tz == "" {
		return "UTC"
	}
	return tz
}

func orZero(offset string) string {
	if offset == "" {
		return "+0s"
	}
	if !strings.HasPrefix(offset, "-") {
		return "+" + offset
	}
	return offset
}
