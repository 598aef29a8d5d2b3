package main

import (
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	clocktesting "k8s.io/utils/clock/testing"
)

// pflag prints the first back-quoted word of a flag's usage as its value
// name ("--history-url url"); a back-quoted phrase there once made every
// command's help read "--history-url kubectl port-forward".
func TestFlagValueNamesAreOneWord(t *testing.T) {
	g := NewWithT(t)
	root := NewRootCommand(genericiooptions.NewTestIOStreamsDiscard(), clocktesting.NewFakePassiveClock(time.Now()))
	var walk func(*cobra.Command)
	seen := 0
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			seen++
			name, _ := pflag.UnquoteUsage(f)
			g.Expect(name).NotTo(ContainSubstring(" "), "%s --%s has the value name %q", c.CommandPath(), f.Name, name)
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	g.Expect(seen).To(BeNumerically(">", 10))

	out, errOut, code := runPlugin(t, "history", "--help")
	g.Expect(code).To(Equal(0), errOut)
	g.Expect(out).To(MatchRegexp(`--history-url url\s+HTTPS url of crmflow's run history API`))
	g.Expect(out).To(MatchRegexp(`--history-ca-file file\s+PEM file with the CA certificate`))
	g.Expect(strings.Contains(out, "--history-url kubectl")).To(BeFalse())
}
