//go:build !unit

// Package docs checks the documentation against the real binaries and chart,
// so the README and docs/intake.md cannot drift again: every flag they name
// is a flag of the manager, the plugin or the local start (with the default
// they state); every `kubectl crmflow …` and `make …` line they show parses;
// every chart Service and port they name is the chart's; every local address
// is the local start's default and every stand-in CRM path is served; the
// README's layout table matches the tree; and docs/events.md shows exactly the
// catalogue's example payloads.
package docs

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/yaml"

	"github.com/crmflow/crmflow/internal/catalogue"
)

// checkedDocs are the documents whose commands and flags are checked.
var checkedDocs = []string{"README.md", "docs/intake.md"}

func root() string {
	r, _ := filepath.Abs(filepath.Join("..", ".."))
	return r
}

func read(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root(), rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// help is one binary's --help output, parsed.
type help struct {
	text     string
	flags    map[string]bool   // long names and one-letter shorthands, without dashes
	defaults map[string]string // flag → default as printed (quotes removed)
}

var (
	flagLine    = regexp.MustCompile(`(?m)^\s+(?:-([a-zA-Z]), )?--?([a-z0-9][a-z0-9-]*)\b(.*)$`)
	defaultText = regexp.MustCompile(`\(default ("[^"]*"|[^)\s]+)\)\s*$`)
)

func parseHelp(text string) help {
	h := help{text: text, flags: map[string]bool{}, defaults: map[string]string{}}
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		m := flagLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		if m[1] != "" {
			h.flags[m[1]] = true
		}
		h.flags[m[2]] = true
		// Go's flag package prints the usage (and default) on the next line; cobra on the same.
		rest := m[3]
		if i+1 < len(lines) && !flagLine.MatchString(lines[i+1]) {
			rest += " " + strings.TrimSpace(lines[i+1])
		}
		if d := defaultText.FindStringSubmatch(strings.TrimSpace(rest)); d != nil {
			h.defaults[m[2]] = strings.Trim(d[1], `"`)
		}
	}
	return h
}

// binaries builds the manager, the plugin and the local start once.
var binaries = sync.OnceValues(func() (map[string]string, error) {
	dir, err := os.MkdirTemp("", "crmflow-docs-test-")
	if err != nil {
		return nil, err
	}
	builtDir = dir
	out := map[string]string{}
	for name, pkg := range map[string]string{"manager": ".", "kubectl-crmflow": "./cmd/kubectl-crmflow", "dev": "./hack/dev"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), pkg)
		cmd.Dir = root()
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build %s: %w: %s", pkg, err, b)
		}
		out[name] = filepath.Join(dir, name)
	}
	return out, nil
})

// builtDir holds the binaries once built; TestMain removes it.
var builtDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if builtDir != "" {
		_ = os.RemoveAll(builtDir)
	}
	os.Exit(code)
}

// helpOf runs a binary with args and --help (exit status ignored: Go's flag
// package prints help on stderr).
func helpOf(t *testing.T, bin string, args ...string) help {
	t.Helper()
	bins, err := binaries()
	if err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command(bins[bin], append(args, "--help")...).CombinedOutput()
	if len(out) == 0 {
		t.Fatalf("%s %v --help printed nothing", bin, args)
	}
	return parseHelp(string(out))
}

// pluginCommands are the plugin's subcommands, from its own --help.
func pluginCommands(t *testing.T) []string {
	t.Helper()
	text := helpOf(t, "kubectl-crmflow").text
	_, rest, ok := strings.Cut(text, "Available Commands:\n")
	if !ok {
		t.Fatalf("kubectl-crmflow --help lists no commands:\n%s", text)
	}
	var out []string
	for _, l := range strings.Split(rest, "\n") {
		f := strings.Fields(l)
		if len(f) == 0 {
			break
		}
		if f[0] != "help" && f[0] != "completion" {
			out = append(out, f[0])
		}
	}
	return out
}

// codeLines are the lines of the documents' fenced code blocks, with
// backslash continuations joined and comments dropped.
func codeLines(doc string) []string {
	var out []string
	in, cur := false, ""
	for _, l := range strings.Split(doc, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			in = !in
			continue
		}
		if !in {
			continue
		}
		if i := strings.Index(l, "  #"); i >= 0 {
			l = l[:i]
		}
		l = strings.TrimRight(l, " ")
		if strings.HasSuffix(l, "\\") {
			cur += strings.TrimSuffix(l, "\\") + " "
			continue
		}
		out = append(out, strings.TrimSpace(cur+l))
		cur = ""
	}
	return out
}

// prose is the document outside fenced code blocks.
func prose(doc string) string {
	var b strings.Builder
	in := false
	for _, l := range strings.Split(doc, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			in = !in
			continue
		}
		if !in {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

var (
	backtickFlag = regexp.MustCompile("`(--?[a-z][a-z0-9-]*)(?:=[^`]*)?`")
	anyFlag      = regexp.MustCompile(`(?:^|\s)(--?[a-zA-Z][a-z0-9-]*)`)
)

func TestFlagsTheDocsNameExist(t *testing.T) {
	mgr := helpOf(t, "manager")
	dev := helpOf(t, "dev")
	plugin := map[string]help{}
	for _, c := range pluginCommands(t) {
		plugin[c] = helpOf(t, "kubectl-crmflow", c)
	}
	known := func(f string) bool {
		f = strings.TrimLeft(f, "-")
		if mgr.flags[f] || dev.flags[f] {
			return true
		}
		for _, h := range plugin {
			if h.flags[f] {
				return true
			}
		}
		return false
	}
	for _, doc := range checkedDocs {
		t.Run(doc, func(t *testing.T) {
			g := NewWithT(t)
			for _, m := range backtickFlag.FindAllStringSubmatch(prose(read(t, doc)), -1) {
				g.Expect(known(m[1])).To(BeTrue(), "%s names %s, which no crmflow binary has (manager, kubectl-crmflow, make dev)", doc, m[1])
			}
		})
	}
}

// The README's table of manager flags states defaults; they are the binary's.
func TestManagerFlagTableMatchesTheBinary(t *testing.T) {
	g := NewWithT(t)
	mgr := helpOf(t, "manager")
	doc := read(t, "README.md")
	start := strings.Index(doc, "## The manager")
	g.Expect(start).To(BeNumerically(">=", 0))
	rows := 0
	row := regexp.MustCompile("^\\| (`--[^|]+) \\| ([^|]+) \\|")
	cell := regexp.MustCompile("`([^`]*)`")
	for _, l := range strings.Split(doc[start:], "\n") {
		m := row.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		rows++
		var flags, defaults []string
		for _, c := range cell.FindAllStringSubmatch(m[1], -1) {
			flags = append(flags, strings.TrimPrefix(c[1], "--"))
		}
		for _, c := range cell.FindAllStringSubmatch(m[2], -1) {
			defaults = append(defaults, c[1])
		}
		for i, f := range flags {
			g.Expect(mgr.flags).To(HaveKey(f), "README's manager table names --%s", f)
			if i < len(defaults) {
				if d, ok := mgr.defaults[f]; ok {
					g.Expect(defaults[i]).To(Equal(d), "README states the default of --%s", f)
				}
			}
		}
	}
	g.Expect(rows).To(BeNumerically(">=", 8), "the table was found")
}

// Every `kubectl crmflow …`, `bin/manager …` and `make …` line parses.
func TestCommandLinesTheDocsShowParse(t *testing.T) {
	makefiles := read(t, "Makefile") + read(t, "hack/ship.mk")
	commands := pluginCommands(t)
	for _, doc := range checkedDocs {
		t.Run(doc, func(t *testing.T) {
			g := NewWithT(t)
			for _, line := range codeLines(read(t, doc)) {
				for _, part := range strings.Split(line, "&&") {
					fields := strings.Fields(part)
					switch {
					case len(fields) >= 3 && fields[0] == "kubectl" && fields[1] == "crmflow":
						sub := fields[2]
						g.Expect(commands).To(ContainElement(sub), "%s: %q", doc, line)
						h := helpOf(t, "kubectl-crmflow", sub)
						for _, m := range anyFlag.FindAllStringSubmatch(strings.Join(fields[3:], " "), -1) {
							g.Expect(h.flags).To(HaveKey(strings.TrimLeft(m[1], "-")), "%s: kubectl crmflow %s has no flag %s (%q)", doc, sub, m[1], line)
						}
					case len(fields) >= 2 && fields[0] == "make":
						for _, target := range fields[1:] {
							if strings.Contains(target, "=") {
								continue
							}
							g.Expect(makefiles).To(MatchRegexp(`(?m)^`+regexp.QuoteMeta(target)+`:`), "%s: make %s is no target (%q)", doc, target, line)
						}
					case len(fields) >= 1 && fields[0] == "bin/manager":
						h := helpOf(t, "manager")
						for _, m := range anyFlag.FindAllStringSubmatch(strings.Join(fields[1:], " "), -1) {
							g.Expect(h.flags).To(HaveKey(strings.TrimLeft(m[1], "-")), "%s: %q", doc, line)
						}
					}
				}
			}
		})
	}
}

// chartServices maps each Service the chart renders (release crmflow) to its port.
func chartServices(t *testing.T) map[string]string {
	t.Helper()
	helpers := read(t, "charts/crmflow/templates/_helpers.tpl")
	services := read(t, "charts/crmflow/templates/services.yaml")
	var values map[string]any
	if err := yaml.Unmarshal([]byte(read(t, "charts/crmflow/values.yaml")), &values); err != nil {
		t.Fatal(err)
	}
	value := func(path string) string {
		var v any = values
		for _, k := range strings.Split(strings.TrimPrefix(path, ".Values."), ".") {
			m, _ := v.(map[string]any)
			v = m[k]
		}
		return fmt.Sprint(v)
	}
	suffix := regexp.MustCompile(`define "(crmflow\.\w+ServiceName)" -}}\s*\{\{- printf "%s-([a-z0-9-]+)"`)
	names := map[string]string{}
	for _, m := range suffix.FindAllStringSubmatch(helpers, -1) {
		names[m[1]] = "crmflow-" + m[2]
	}
	out := map[string]string{}
	for _, doc := range strings.Split(services, "\n---") {
		name := regexp.MustCompile(`name: \{\{ include "(crmflow\.\w+ServiceName)"`).FindStringSubmatch(doc)
		port := regexp.MustCompile(`\n\s+port: (\d+|\{\{ (\.Values\.[\w.]+) \}\})`).FindStringSubmatch(doc)
		if name == nil || port == nil {
			continue
		}
		p := port[1]
		if port[2] != "" {
			p = value(port[2])
		}
		out[names[name[1]]] = p
	}
	if len(out) < 2 {
		t.Fatalf("found only %v in the chart", out)
	}
	return out
}

// Every chart Service the docs name exists, with the port they give it.
func TestServicesAndPortsTheDocsNameAreTheCharts(t *testing.T) {
	svcs := chartServices(t)
	forward := regexp.MustCompile(`service/(crmflow-[a-z0-9-]+) \d+:(\d+)`)
	url := regexp.MustCompile(`(crmflow-[a-z0-9-]+)\.[a-z0-9-]+(?:\.svc(?:\.cluster\.local)?)?:(\d+)`)
	named := regexp.MustCompile("Service `(crmflow-[a-z0-9-]+)`, port (\\d+)")
	for _, doc := range checkedDocs {
		t.Run(doc, func(t *testing.T) {
			g := NewWithT(t)
			text := read(t, doc)
			n := 0
			for _, re := range []*regexp.Regexp{forward, url, named} {
				for _, m := range re.FindAllStringSubmatch(text, -1) {
					n++
					g.Expect(svcs).To(HaveKey(m[1]), "%s names Service %s; the chart has %v", doc, m[1], svcs)
					g.Expect(svcs[m[1]]).To(Equal(m[2]), "%s gives %s port %s", doc, m[1], m[2])
				}
			}
			g.Expect(n).To(BeNumerically(">", 0), "%s names the receiver Service", doc)
		})
	}
}

// Local addresses in the docs are the local start's defaults, and every
// stand-in CRM path they name is served by hack/dev.
func TestLocalAddressesAreTheLocalStarts(t *testing.T) {
	dev := helpOf(t, "dev")
	byPort := map[string]string{}
	for _, f := range []string{"receiver-addr", "sink-addr", "smtp-addr", "console-addr", "history-addr"} {
		d := dev.defaults[f]
		_, port, ok := strings.Cut(d, ":")
		if !ok {
			t.Fatalf("dev --%s default %q", f, d)
		}
		byPort[port] = f
	}
	served := map[string]bool{}
	for _, m := range regexp.MustCompile(`HandleFunc\("(/[a-z]*/?)"`).FindAllStringSubmatch(read(t, "hack/dev/localcrm.go"), -1) {
		served[m[1]] = true
	}
	addr := regexp.MustCompile(`127\.0\.0\.1:(\d+)(/[a-z0-9]+/?)?`)
	for _, doc := range checkedDocs {
		t.Run(doc, func(t *testing.T) {
			g := NewWithT(t)
			for _, m := range addr.FindAllStringSubmatch(read(t, doc), -1) {
				flag, ok := byPort[m[1]]
				g.Expect(ok).To(BeTrue(), "%s names 127.0.0.1:%s, which is no default of make dev (%v)", doc, m[1], byPort)
				if flag == "sink-addr" && m[2] != "" {
					g.Expect(served).To(HaveKey(m[2]), "%s names the stand-in CRM path %s", doc, m[2])
				}
				if flag == "receiver-addr" && m[2] != "" {
					g.Expect(m[2]).To(Equal("/v1/"), "%s: the receiver serves /v1/namespaces/<ns>/events", doc)
				}
			}
		})
	}
}

// The README's layout table lists every top-level directory, and only paths that exist.
func TestLayoutTableMatchesTheTree(t *testing.T) {
	g := NewWithT(t)
	doc := read(t, "README.md")
	start := strings.Index(doc, "## Layout")
	end := strings.Index(doc[start+1:], "\n## ")
	table := doc[start : start+1+end]
	listed := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([^`]+)`").FindAllStringSubmatch(table, -1) {
		p := strings.TrimSuffix(m[1], "/")
		listed[strings.Split(p, "/")[0]] = true
		_, err := os.Stat(filepath.Join(root(), p))
		g.Expect(err).NotTo(HaveOccurred(), "the layout table lists %s", m[1])
	}
	for _, m := range regexp.MustCompile("`((?:test|internal|runner|controllers|hack|cmd)/[a-z0-9/-]+)`").FindAllStringSubmatch(table, -1) {
		_, err := os.Stat(filepath.Join(root(), m[1]))
		g.Expect(err).NotTo(HaveOccurred(), "the layout table names %s", m[1])
	}
	entries, err := os.ReadDir(root())
	g.Expect(err).NotTo(HaveOccurred())
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") || e.Name() == "bin" || e.Name() == "test-artifacts" {
			continue // not the project's: built tools, and what test suites write
		}
		g.Expect(listed).To(HaveKey(e.Name()), "README's layout table omits %s/", e.Name())
	}
	for _, sub := range []string{"internal", "test"} {
		dirs, _ := os.ReadDir(filepath.Join(root(), sub))
		for _, d := range dirs {
			if d.IsDir() {
				g.Expect(table).To(ContainSubstring(sub+"/"+d.Name()), "README's layout table omits %s/%s", sub, d.Name())
			}
		}
	}
}

// docs/events.md shows one section per catalogue type, with its example payload.
func TestEventCatalogueDocMatchesTheCatalogue(t *testing.T) {
	g := NewWithT(t)
	doc := read(t, "docs/events.md")
	section := regexp.MustCompile("(?s)### `([a-z.]+)`\n(.*?)```json\n(.*?)```")
	found := map[string]string{}
	var order []string
	for _, m := range section.FindAllStringSubmatch(doc, -1) {
		found[m[1]] = m[3]
		order = append(order, m[1])
	}
	var want []string
	for _, e := range catalogue.Entries {
		want = append(want, e.Type)
		g.Expect(found).To(HaveKey(e.Type), "docs/events.md has no example for %s", e.Type)
		var docData, code any
		g.Expect(json.Unmarshal([]byte(found[e.Type]), &docData)).To(Succeed(), "docs/events.md example of %s", e.Type)
		g.Expect(json.Unmarshal([]byte(e.Data), &code)).To(Succeed())
		g.Expect(docData).To(Equal(code), "docs/events.md example of %s differs from internal/catalogue", e.Type)
	}
	g.Expect(order).To(Equal(want), "docs/events.md lists the catalogue's types, in order")
}
