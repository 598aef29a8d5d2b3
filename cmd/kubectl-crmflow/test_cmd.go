package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/internal/catalogue"
	"github.com/crmflow/crmflow/runner"
	"github.com/crmflow/crmflow/runner/schedule"
)

// testOptions are the flags of `kubectl crmflow test`.
type testOptions struct {
	workflowFile string
	workflowName string
	contact      string
	eventFile    string
	replyFiles   []string
	now          string
	crmSinkURL   string
	details      bool
}

func newTestCommand(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags, clk clock.PassiveClock) *cobra.Command {
	o := &testOptions{}
	cmd := &cobra.Command{
		Use:   "test (-f WORKFLOW.yaml | --workflow NAME) [--event EVENT.json | --contact SUBJECT] [--reply EVENT.json]...",
		Short: "Run a workflow against an event, offline, and print the plan",
		Long: `test runs a Workflow through crmflow's engine offline, as a dry run: it
compiles every expression and template, evaluates the conditions against an
event, and walks the steps with a virtual clock, rendering every action
without sending anything and creating nothing. Waits are skipped ("would wait
1h"); a waitForEvent step takes the next --reply event, or times out when none
is left.

Which workflow:
  -f FILE            a Workflow manifest (a file with several Workflows needs
                     --workflow NAME to pick one: each is tested on its own)
  --workflow NAME    the cluster's Workflow of that name in the namespace (its
                     live spec; read-only, so a Draft works too)

Which event:
  --event FILE       a CloudEvent in the CloudEvents JSON format (YAML works too)
  --contact SUBJECT  with --workflow: the newest event the cluster's runs in
                     the namespace recorded for that subject (one that triggers
                     the workflow), else the catalogue example about SUBJECT
  neither            the catalogue example of the workflow's first trigger type
                     (docs/events.md lists them)

The virtual clock starts when a real run would: the event's time plus
trigger.event.delay, the date of trigger.dateField plus its offset, or the next
tick of trigger.schedule after --now (default: the event's time, else now).

  {"specversion": "1.0", "id": "evt-1", "source": "crm.example.com",
   "type": "lead.created", "subject": "c-42", "time": "2026-03-02T10:00:00Z",
   "data": {"lead": {"source": "Website", "contactId": "c-42"},
            "contact": {"email": "ann@example.com", "firstName": "Ann"}}}

Secrets are not read. Exit status: 0 when the workflow compiles (whether or
not the event enrolls), 1 when it does not compile (the errors name each field
and position) or is not found, 2 for unreadable input.`,
		Example: `  # What would the lead follow-up do for this lead?
  kubectl crmflow test -f config/samples/crmflow_v1alpha1_lead-follow-up.yaml --event lead.json

  # ... if the lead replied to the welcome email?
  kubectl crmflow test -f lead-follow-up.yaml --event lead.json --reply reply.json

  # The cluster's vip-routing workflow on contact c-42's latest event
  kubectl crmflow test -n shop --workflow vip-routing --contact c-42`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), streams.Out, flags, clk)
		},
	}
	cmd.Flags().StringVarP(&o.workflowFile, "filename", "f", "", "the Workflow to test (YAML or JSON)")
	cmd.Flags().StringVar(&o.workflowName, "workflow", "", "the cluster's Workflow to test (or, with -f, the one to pick from a file of several)")
	cmd.Flags().StringVar(&o.contact, "contact", "", "test on this subject's newest recorded event in the namespace (needs --workflow, not --event)")
	cmd.Flags().StringVar(&o.eventFile, "event", "", "the triggering CloudEvent (CloudEvents JSON format); default: see --contact, else the catalogue example")
	cmd.Flags().StringArrayVar(&o.replyFiles, "reply", nil, "a CloudEvent that answers the next waitForEvent step (repeatable, in order)")
	cmd.Flags().StringVar(&o.now, "now", "", "the current time of the simulation, RFC 3339 (default: the event's time, else the current time)")
	cmd.Flags().StringVar(&o.crmSinkURL, "crm-sink-url", "https://crm-sink.invalid/", "the CRM sink contact and CRM commands are rendered for (nothing is sent; set it to the manager's --crm-sink-url to see the real target)")
	cmd.Flags().BoolVar(&o.details, "details", false, "print each step's rendered request (output) under it")
	return cmd
}

func (o *testOptions) validate() error {
	switch {
	case o.workflowFile == "" && o.workflowName == "":
		return errors.New("name the workflow: -f FILE or --workflow NAME")
	case o.contact != "" && o.eventFile != "":
		return errors.New("--contact picks the event from the cluster; give it or --event, not both")
	case o.contact != "" && o.workflowFile != "":
		return errors.New("--contact reads the cluster's runs; use it with --workflow NAME (without -f)")
	}
	return nil
}

func (o *testOptions) run(ctx context.Context, out io.Writer, flags *genericclioptions.ConfigFlags, clk clock.PassiveClock) error {
	if err := o.validate(); err != nil {
		return err
	}
	var (
		wf      *v1alpha1.Workflow
		c       client.Client
		ns, src string
		err     error
	)
	if o.workflowFile != "" {
		if wf, err = readWorkflow(o.workflowFile, o.workflowName); err != nil {
			return err
		}
		src = o.workflowFile
	} else {
		if c, ns, err = newClient(flags); err != nil {
			return err
		}
		wf = &v1alpha1.Workflow{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: o.workflowName}, wf); err != nil {
			if apierrors.IsNotFound(err) {
				return &exitError{code: 1, err: fmt.Errorf("no Workflow %q in namespace %s", o.workflowName, ns)}
			}
			return fmt.Errorf("get Workflow %s/%s: %w", ns, o.workflowName, err)
		}
		src = "workflow " + ns + "/" + wf.Name
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
	if o.now != "" {
		if now, err = time.Parse(time.RFC3339, o.now); err != nil {
			return fmt.Errorf("--now %q is not RFC 3339: %w", o.now, err)
		}
	}

	eng := runner.New(runner.Options{CRMSinkURL: o.crmSinkURL})
	prog, err := eng.Compile(&wf.Spec)
	if err != nil {
		return compileFailure(src, err)
	}
	ev, origin, err := o.event(ctx, c, ns, wf, prog, now)
	if err != nil {
		return err
	}
	if o.now == "" && ev.Time != nil {
		now = ev.Time.Time
	}

	fmt.Fprintf(out, "Workflow:   %s (%s)\n", wf.Name, describeTrigger(&wf.Spec.Trigger))
	if wf.Spec.Description != "" {
		fmt.Fprintf(out, "            %s\n", oneLine(wf.Spec.Description, 120))
	}
	fmt.Fprintf(out, "Event:      %s id=%s source=%s\n", printable(ev.Type), printable(ev.ID), printable(ev.Source))
	if origin != "" {
		fmt.Fprintf(out, "            %s\n", printable(origin))
	}
	if wf.Spec.Trigger.Schedule == nil && !prog.Triggers(ev) {
		fmt.Fprintf(out, "\nThis event does not trigger the workflow: its type %q is not among %s.\n", ev.Type, describeTrigger(&wf.Spec.Trigger))
		return nil
	}
	subject, err := prog.Subject(ev, now)
	if err != nil {
		fmt.Fprintf(out, "\nNo run: the subject cannot be determined: %v\n", err)
		return nil
	}
	fmt.Fprintf(out, "Subject:    %s\n", printable(subject))
	start, ok := startTime(out, &wf.Spec, prog, ev, now)
	if !ok {
		return nil
	}
	status, err := eng.Simulate(ctx, &wf.Spec, ev, replies, start)
	if err != nil {
		return compileFailure(src, err)
	}
	fmt.Fprintln(out)
	printConditions(out, &status)
	fmt.Fprintln(out)
	printSteps(out, &status, timelineOptions{plan: true, outputs: o.details})
	fmt.Fprintln(out)
	printOutcome(out, &status, true)
	return nil
}

// startTime prints and returns when a real run would start, the virtual
// clock's start: event time + delay, the date + offset, or the next schedule
// tick. ok is false when no run would start (a cleared date).
func startTime(out io.Writer, spec *v1alpha1.WorkflowSpec, prog *runner.Program, ev *v1alpha1.CloudEvent, now time.Time) (time.Time, bool) {
	t := spec.Trigger
	switch {
	case t.Schedule != nil:
		sched, err := schedule.Parse(t.Schedule.Cron, t.Schedule.TimeZone)
		if err != nil {
			fmt.Fprintf(out, "Starts:     cannot tell: %v\n", err)
			return now, true
		}
		next, found := sched.Next(now)
		if !found {
			fmt.Fprintf(out, "Starts:     never: %q has no tick after %s\n", t.Schedule.Cron, now.UTC().Format(time.RFC3339))
			return now, false
		}
		fmt.Fprintf(out, "Starts:     %s (the next tick of %q)\n", next.UTC().Format(time.RFC3339), t.Schedule.Cron)
		return next, true
	default:
		at, cleared, err := prog.StartAt(ev, now)
		switch {
		case err != nil:
			fmt.Fprintf(out, "Starts:     cannot tell: %v\n", err)
			return now, true
		case cleared:
			fmt.Fprintln(out, "Starts:     never: the event has no date, so a scheduled run would be dropped")
			return now, false
		}
		why := "the event's time"
		switch {
		case t.DateField != nil:
			why = fmt.Sprintf("%s %s", t.DateField.Field, orZero(string(t.DateField.Offset)))
			if at.Before(now) {
				why += "; already passed, so a real event would be skipped as DatePassed"
			}
		case t.Event != nil && t.Event.Delay != nil:
			why = "the event's time + " + string(*t.Event.Delay)
		}
		fmt.Fprintf(out, "Starts:     %s (%s)\n", at.UTC().Format(time.RFC3339), why)
		return at, true
	}
}

// event picks the event to test with: --event, else the subject's newest
// recorded event that triggers the workflow, else the catalogue example.
// origin says where it came from ("" for a file).
func (o *testOptions) event(ctx context.Context, c client.Client, ns string, wf *v1alpha1.Workflow, prog *runner.Program, now time.Time) (*v1alpha1.CloudEvent, string, error) {
	if o.eventFile != "" {
		ev, err := readEventFile(o.eventFile)
		return ev, "", err
	}
	if o.contact != "" {
		ev, origin, err := newestEvent(ctx, c, ns, o.contact, prog)
		if err != nil || ev != nil {
			return ev, origin, err
		}
		ex, ok := exampleFor(&wf.Spec.Trigger)
		if !ok {
			return nil, "", &exitError{code: 1, err: fmt.Errorf("no recorded event of %s in namespace %s, and %s", o.contact, ns, noExample(&wf.Spec.Trigger))}
		}
		return ex.Event(o.contact, now), fmt.Sprintf("(%s; the catalogue example of %s, about %s)", origin, ex.Type, o.contact), nil
	}
	ex, ok := exampleFor(&wf.Spec.Trigger)
	if !ok {
		return nil, "", errors.New(noExample(&wf.Spec.Trigger))
	}
	return ex.Event("", now), fmt.Sprintf("(the catalogue example of %s; pass --event or --contact for a real one)", ex.Type), nil
}

// noExample says why the trigger has no catalogue example: its types are
// not in the event catalogue, with a suggestion for a near miss
// ("ticket.create": did you mean "ticket.created"?).
func noExample(t *v1alpha1.Trigger) string {
	types := t.EventTypes()
	if len(types) == 0 {
		return "no catalogue example for this trigger: pass --event <file>"
	}
	names := make([]string, len(types))
	var hints []string
	for i, ty := range types {
		names[i] = fmt.Sprintf("%q", ty)
		if want, ok := catalogue.Suggest(string(ty)); ok {
			hints = append(hints, fmt.Sprintf("did you mean %q for %q?", want, ty))
		}
	}
	which := "not a type"
	if len(names) > 1 {
		which = "none of them a type"
	}
	msg := fmt.Sprintf("no catalogue example to simulate: the trigger listens to %s, %s of the event catalogue (docs/events.md): pass --event <file>", strings.Join(names, ", "), which)
	if len(hints) > 0 {
		msg += " (" + strings.Join(hints, " ") + ")"
	}
	return msg
}

// exampleFor is the catalogue example of the first catalogue type the trigger listens to.
func exampleFor(t *v1alpha1.Trigger) (catalogue.Entry, bool) {
	var types []v1alpha1.EventType
	switch {
	case t.Event != nil:
		types = t.Event.Types
	case t.DateField != nil:
		types = t.DateField.Types
	case t.Schedule != nil:
		return catalogue.Entry{Type: "io.crmflow.schedule.tick", Data: "{}"}, true
	}
	for _, ty := range types {
		if e, ok := catalogue.Lookup(string(ty)); ok {
			return e, true
		}
	}
	return catalogue.Entry{}, false
}

// newestEvent finds subject's newest event among the namespace's runs (their
// spec.event; dry runs excluded) that triggers the workflow. Without one it
// returns nil and a note saying what it found.
func newestEvent(ctx context.Context, c client.Client, ns, subject string, prog *runner.Program) (*v1alpha1.CloudEvent, string, error) {
	var runs v1alpha1.WorkflowRunList
	if err := c.List(ctx, &runs, client.InNamespace(ns),
		client.MatchingLabels{v1alpha1.LabelSubjectHash: v1alpha1.SubjectHash(subject)}); err != nil {
		return nil, "", fmt.Errorf("list the runs of %s in %s: %w", subject, ns, err)
	}
	type found struct {
		ev  *v1alpha1.CloudEvent
		at  time.Time
		run string
	}
	var evs []found
	for i := range runs.Items {
		r := &runs.Items[i]
		if r.Spec.Subject != subject || r.Spec.DryRun || r.Spec.Event == nil || r.Spec.Event.Type == "" {
			continue
		}
		at := r.CreationTimestamp.Time
		if r.Spec.Event.Time != nil && !r.Spec.Event.Time.IsZero() {
			at = r.Spec.Event.Time.Time
		}
		evs = append(evs, found{ev: r.Spec.Event, at: at, run: r.Name})
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].at.After(evs[j].at) })
	for _, f := range evs {
		if prog.Triggers(f.ev) {
			return f.ev.DeepCopy(), fmt.Sprintf("(the newest of %d recorded events of %s: from run %s, %s)",
				len(evs), subject, f.run, f.at.UTC().Format(time.RFC3339)), nil
		}
	}
	if len(evs) == 0 {
		return nil, "no run in " + ns + " recorded an event of " + subject, nil
	}
	return nil, fmt.Sprintf("none of the %d recorded events of %s triggers this workflow", len(evs), subject), nil
}

// readWorkflow reads a Workflow manifest, refusing unknown fields as the API
// server does. A file of several documents needs name to pick one: each
// Workflow is tested on its own, never silently just the first.
func readWorkflow(path, name string) (*v1alpha1.Workflow, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read workflow: %w", err)
	}
	docs := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
	var all []*v1alpha1.Workflow
	for i := 1; ; i++ {
		doc, err := docs.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, &exitError{code: 1, err: fmt.Errorf("%s: document %d: %w", path, i, err)}
		}
		if len(bytes.TrimSpace(doc)) == 0 || isOnlyComments(doc) {
			continue
		}
		var wf v1alpha1.Workflow
		if err := yaml.UnmarshalStrict(doc, &wf); err != nil {
			return nil, &exitError{code: 1, err: fmt.Errorf("%s is not a valid Workflow (document %d): %w", path, i, err)}
		}
		if wf.Kind != "" && wf.Kind != "Workflow" {
			return nil, &exitError{code: 1, err: fmt.Errorf("%s holds a %s (document %d), not a Workflow", path, wf.Kind, i)}
		}
		all = append(all, &wf)
	}
	switch {
	case len(all) == 0:
		return nil, &exitError{code: 1, err: fmt.Errorf("%s holds no Workflow", path)}
	case name != "":
		for _, wf := range all {
			if wf.Name == name {
				return wf, nil
			}
		}
		return nil, &exitError{code: 1, err: fmt.Errorf("%s holds no Workflow named %q (it has %s)", path, name, workflowNames(all))}
	case len(all) > 1:
		return nil, &exitError{code: 1, err: fmt.Errorf("%s holds %d Workflows (%s); test one at a time with --workflow NAME", path, len(all), workflowNames(all))}
	}
	return all[0], nil
}

func workflowNames(wfs []*v1alpha1.Workflow) string {
	names := make([]string, len(wfs))
	for i, wf := range wfs {
		names[i] = wf.Name
	}
	return strings.Join(names, ", ")
}

// isOnlyComments reports whether a YAML document holds nothing but comments.
func isOnlyComments(doc []byte) bool {
	for _, line := range strings.Split(string(doc), "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") && l != "---" {
			return false
		}
	}
	return true
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
		return fmt.Sprintf("on schedule %q in %s", t.Schedule.Cron, v1alpha1.TimeZoneOrDefault(t.Schedule.TimeZone))
	case t.DateField != nil:
		return fmt.Sprintf("at %s %s, from %s", t.DateField.Field, orZero(string(t.DateField.Offset)), types(t.DateField.Types))
	}
	return "no trigger"
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
