package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/crmflow/crmflow/test/fixture"
)

var update = flag.Bool("update", false, "rewrite the golden files of the test command")

// runPluginAt runs the plugin with its clock at now.
func runPluginAt(now time.Time, args ...string) (string, string, int) {
	var out, errOut bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	cmd := NewRootCommand(streams, clocktesting.NewFakePassiveClock(now))
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	code := 0
	if err := cmd.Execute(); err != nil {
		errOut.WriteString("error: " + err.Error() + "\n")
		code = exitCode(err)
	}
	return out.String(), errOut.String(), code
}

// runPlugin runs the plugin with args, its clock at a fixed time, and
// returns stdout, stderr and the exit code.
func runPlugin(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return runPluginAt(time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC), args...)
}

func eventPath(name string) string { return filepath.Join("testdata", "events", name+".json") }

func TestTestCommandGolden(t *testing.T) {
	cases := []struct {
		golden string
		args   []string
	}{
		{"vip-routing", []string{"test", "-f", fixture.SamplePath("vip-routing"), "--event", eventPath("conversation-started-vip")}},
		{"lead-follow-up-silent", []string{"test", "-f", fixture.SamplePath("lead-follow-up"), "--event", eventPath("lead-created-website")}},
		{"lead-follow-up-replied", []string{"test", "-f", fixture.SamplePath("lead-follow-up"), "--event", eventPath("lead-created-website"),
			"--reply", eventPath("message-received-reply")}},
		{"negative-sentiment", []string{"test", "-f", fixture.SamplePath("negative-sentiment"), "--event", eventPath("message-received-negative"), "--details"}},
		{"vip-routing-not-vip", []string{"test", "-f", fixture.SamplePath("vip-routing"), "--event", eventPath("conversation-started-regular")}},
		// The clock starts at the renewal date - 14d (a Saturday), so the business-hours wait ends the Monday after.
		{"renewal-reminder", []string{"test", "-f", fixture.SamplePath("renewal-reminder"), "--event", eventPath("contact-updated-renewal")}},
		// No --event: the catalogue example of the trigger type.
		{"vip-routing-catalogue", []string{"test", "-f", fixture.SamplePath("vip-routing")}},
		// One Workflow picked from a file of several; its delay moves the start.
		// Ids above 2^53 stay exact from the event file to the outputs shown.
		{"large-ids", []string{"test", "-f", filepath.Join("testdata", "large-ids.yaml"), "--event", eventPath("contact-updated-large-ids"), "--details"}},
		{"second-with-delay", []string{"test", "-f", filepath.Join("testdata", "two-workflows.yaml"), "--workflow", "second", "--event", eventPath("lead-created-website")}},
	}
	for _, tc := range cases {
		t.Run(tc.golden, func(t *testing.T) {
			g := NewWithT(t)
			out, errOut, code := runPlugin(t, tc.args...)
			g.Expect(code).To(Equal(0), errOut)
			g.Expect(errOut).To(BeEmpty())
			path := filepath.Join("testdata", "golden", tc.golden+".txt")
			if *update {
				g.Expect(os.MkdirAll(filepath.Dir(path), 0o755)).To(Succeed())
				g.Expect(os.WriteFile(path, []byte(out), 0o644)).To(Succeed())
			}
			want, err := os.ReadFile(path)
			g.Expect(err).NotTo(HaveOccurred(), "run `go test ./cmd/kubectl-crmflow -update` to write %s", path)
			g.Expect(out).To(Equal(string(want)))
		})
	}
}

func TestTestCommandRefusesABrokenWorkflow(t *testing.T) {
	g := NewWithT(t)
	out, errOut, code := runPlugin(t, "test", "-f", filepath.Join("testdata", "broken-workflow.yaml"), "--event", eventPath("lead-created-website"))
	g.Expect(code).To(Equal(1))
	g.Expect(out).To(BeEmpty(), "no plan for a workflow that does not compile")
	g.Expect(errOut).To(ContainSubstring("broken-workflow.yaml does not compile:"))
	g.Expect(errOut).To(MatchRegexp(`spec\.conditions\[0\]\.expression: 1:\d+: Syntax error`))
	g.Expect(errOut).To(MatchRegexp(`spec\.steps\[0\]\.if: 1:\d+: found no matching overload`))
	g.Expect(errOut).To(MatchRegexp(`spec\.steps\[0\]\.notify\.message: 1:\d+: `))
}

func TestTestCommandSaysWhyATriggerTypeHasNoExample(t *testing.T) {
	g := NewWithT(t)
	out, errOut, code := runPlugin(t, "test", "-f", filepath.Join("testdata", "typo-trigger.yaml"))
	g.Expect(code).NotTo(Equal(0))
	g.Expect(out).To(BeEmpty())
	g.Expect(errOut).To(ContainSubstring(`no catalogue example to simulate: the trigger listens to "ticket.create", not a type of the event catalogue (docs/events.md): ` +
		`pass --event <file> (did you mean "ticket.created" for "ticket.create"?)`))
	g.Expect(errOut).NotTo(ContainSubstring("for on"))
}

func TestTestCommandRefusesSeveralWorkflowsWithoutAName(t *testing.T) {
	g := NewWithT(t)
	out, errOut, code := runPlugin(t, "test", "-f", filepath.Join("testdata", "two-workflows.yaml"), "--event", eventPath("lead-created-website"))
	g.Expect(code).To(Equal(1))
	g.Expect(out).To(BeEmpty())
	g.Expect(errOut).To(ContainSubstring("holds 2 Workflows (first, second); test one at a time with --workflow NAME"))
}

func TestTestCommandBadInput(t *testing.T) {
	for name, args := range map[string][]string{
		"missing event file":  {"test", "-f", fixture.SamplePath("vip-routing"), "--event", "testdata/events/nope.json"},
		"unknown field":       {"test", "-f", filepath.Join("testdata", "unknown-field.yaml"), "--event", eventPath("lead-created-website")},
		"event without type":  {"test", "-f", fixture.SamplePath("vip-routing"), "--event", filepath.Join("testdata", "event-without-type.json")},
		"missing -f":          {"test", "--event", eventPath("lead-created-website")},
		"--contact with -f":   {"test", "-f", fixture.SamplePath("vip-routing"), "--contact", "c-42"},
		"--contact and event": {"test", "--workflow", "vip-routing", "--contact", "c-42", "--event", eventPath("lead-created-website")},
		"unknown name in -f":  {"test", "-f", fixture.SamplePath("vip-routing"), "--workflow", "nope"},
		"bad --now timestamp": {"test", "-f", fixture.SamplePath("vip-routing"), "--event", eventPath("conversation-started-vip"), "--now", "tomorrow"},
	} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			_, errOut, code := runPlugin(t, args...)
			g.Expect(code).NotTo(Equal(0))
			g.Expect(errOut).To(HavePrefix("error: "))
		})
	}
}

func TestHelpExplainsEveryCommand(t *testing.T) {
	for _, sub := range []string{"test", "send", "runs", "history", "contact", "stats"} {
		t.Run(sub, func(t *testing.T) {
			g := NewWithT(t)
			out, _, code := runPlugin(t, sub, "--help")
			g.Expect(code).To(Equal(0))
			g.Expect(out).To(ContainSubstring("Examples:"))
			g.Expect(out).To(ContainSubstring("--namespace"), "kubectl's flags apply")
		})
	}
}
