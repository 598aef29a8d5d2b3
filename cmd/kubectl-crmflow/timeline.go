package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/runner/jsonvalue"
)

// timelineOptions say how a run's status is printed.
type timelineOptions struct {
	// absolute prints wall-clock times next to the offsets (history); a
	// simulation's virtual clock is shown as offsets only (test).
	absolute bool
	// plan prints a dry run's plan: no times (a dry run does not wait).
	plan bool
	// outputs prints each step's output under it.
	outputs bool
}

// printConditions prints the enrollment conditions and their results.
func printConditions(w io.Writer, st *v1alpha1.WorkflowRunStatus) {
	if len(st.ConditionResults) == 0 {
		fmt.Fprintln(w, "Conditions: none (every trigger enrolls)")
	} else {
		fmt.Fprintln(w, "Conditions:")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, c := range st.ConditionResults {
			mark := "PASS"
			if !c.Result {
				mark = "FAIL"
			}
			line := fmt.Sprintf("  %s\t%s\t%s", mark, printable(c.Name), oneLine(c.Expression, 80))
			if c.Message != "" {
				line += "\t(" + oneLine(c.Message, 120) + ")"
			}
			fmt.Fprintln(tw, line)
		}
		_ = tw.Flush()
	}
	enrolled := meta.FindStatusCondition(st.Conditions, v1alpha1.RunEnrolledCondition)
	switch {
	case enrolled == nil:
		fmt.Fprintln(w, "Enrolled:   not decided yet")
	case enrolled.Status == "True":
		fmt.Fprintln(w, "Enrolled:   yes")
	default:
		fmt.Fprintf(w, "Enrolled:   no (%s)\n", oneLine(enrolled.Message, 160))
	}
}

// printSteps prints one line per step reached, with its time relative to
// the run's start, then its output indented.
func printSteps(w io.Writer, st *v1alpha1.WorkflowRunStatus, o timelineOptions) {
	if len(st.Steps) == 0 {
		fmt.Fprintln(w, "Steps: none ran")
		return
	}
	if o.plan {
		fmt.Fprintln(w, "Plan:")
	} else {
		fmt.Fprintln(w, "Timeline:")
	}
	var start time.Time
	if st.StartTime != nil {
		start = st.StartTime.Time
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for i := range st.Steps {
		s := &st.Steps[i]
		at := "-"
		if s.StartTime != nil {
			at = offset(start, s.StartTime.Time)
			if o.absolute {
				at = s.StartTime.UTC().Format("2006-01-02 15:04:05") + " " + at
			}
		}
		attempts := ""
		if s.Attempts > 1 {
			attempts = fmt.Sprintf(" (%d attempts)", s.Attempts)
		}
		if o.plan {
			fmt.Fprintf(tw, "  %d.\t%s\t%s%s\t%s\n", i+1, printable(s.Name), printable(string(s.Phase)), attempts, oneLine(s.Message, 160))
		} else {
			fmt.Fprintf(tw, "  %d.\t%s\t%s\t%s%s\t%s\n", i+1, at, printable(s.Name), printable(string(s.Phase)), attempts, oneLine(s.Message, 160))
		}
		if out := compactOutput(*s, o.plan); out != "" && o.outputs {
			if o.plan {
				fmt.Fprintf(tw, "\t\toutput:\t%s\n", out)
			} else {
				fmt.Fprintf(tw, "\t\t\toutput:\t%s\n", out)
			}
		}
	}
	_ = tw.Flush()
}

// printOutcome prints the run's phase, result and message; a plan has no duration.
func printOutcome(w io.Writer, st *v1alpha1.WorkflowRunStatus, plan bool) {
	if st.Result == v1alpha1.ReasonConditionsNotMet {
		// Not "Succeeded (ConditionsNotMet)": nothing ran, and the
		// Conditions and Enrolled lines above say why.
		if plan {
			fmt.Fprintln(w, "Outcome:    no run: the conditions are not met, so nothing would happen")
		} else {
			fmt.Fprintln(w, "Outcome:    not enrolled: the conditions were not met, so nothing ran")
		}
		return
	}
	line := fmt.Sprintf("Outcome:    %s", printable(string(st.Phase)))
	if st.Result != "" {
		line += " (" + printable(st.Result.String()) + ")"
	}
	if st.Message != "" {
		line += ": " + oneLine(st.Message, 200)
	}
	fmt.Fprintln(w, line)
	if !plan && st.StartTime != nil && st.CompletionTime != nil {
		fmt.Fprintf(w, "Duration:   %s\n", humanDuration(st.CompletionTime.Sub(st.StartTime.Time)))
	}
	if st.WaitingFor != nil {
		wait := "Waiting:    " + printable(string(st.WaitingFor.Reason))
		if len(st.WaitingFor.EventTypes) > 0 {
			wait += " for " + printable(strings.Join(st.WaitingFor.EventTypes, ", "))
		}
		if st.WakeAt != nil {
			wait += " until " + st.WakeAt.UTC().Format(time.RFC3339)
		}
		if st.WaitingFor.Message != "" {
			wait += ": " + oneLine(st.WaitingFor.Message, 160)
		}
		fmt.Fprintln(w, wait)
	}
}

// compactOutput renders a step's output as one line of JSON, capped
// (generously for a plan's details, which are the point of asking).
func compactOutput(s v1alpha1.StepStatus, plan bool) string {
	limit := 200
	if plan {
		limit = 4000
	}
	if s.Output == nil || len(s.Output.Raw) == 0 {
		return ""
	}
	v, err := jsonvalue.Unmarshal(s.Output.Raw) // an id above 2^53 shown as stored
	if err != nil {
		return oneLine(string(s.Output.Raw), limit)
	}
	b, err := json.Marshal(v) // sorted keys: stable output
	if err != nil {
		return ""
	}
	return oneLine(string(b), limit)
}

// offset prints t relative to start as "+1h30m", "+0s" for the start itself.
func offset(start, t time.Time) string {
	if start.IsZero() {
		return ""
	}
	return "+" + humanDuration(t.Sub(start))
}

// humanDuration prints whole days and drops zero units: 50h -> "2d2h", 90s -> "1m30s".
func humanDuration(d time.Duration) string {
	if d < 0 {
		return "-" + humanDuration(-d)
	}
	d = d.Round(time.Second)
	if d == 0 {
		return "0s"
	}
	var b strings.Builder
	if days := d / (24 * time.Hour); days > 0 {
		fmt.Fprintf(&b, "%dd", days)
		d -= days * 24 * time.Hour
	}
	if h := d / time.Hour; h > 0 {
		fmt.Fprintf(&b, "%dh", h)
		d -= h * time.Hour
	}
	if m := d / time.Minute; m > 0 {
		fmt.Fprintf(&b, "%dm", m)
		d -= m * time.Minute
	}
	if d > 0 {
		fmt.Fprintf(&b, "%ds", d/time.Second)
	}
	return b.String()
}

// oneLine flattens s to one line of at most n runes, escaped with printable.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		s = string(r[:n-1]) + "…"
	}
	return printable(s)
}
