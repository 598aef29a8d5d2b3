// Package deps checks what crmflow's binaries and its unit build are made of.
// No binary — the manager, the kubectl plugin, the local start (hack/dev) or
// a benchmark program — links a package of test/ or a test framework
// (gomega, ginkgo): test helpers and fixtures stay out of what we ship and
// run. No test file that starts a server is part of the unit build.
package deps

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/crmflow/crmflow"

// forbidden reports why a package must not be in a binary, or "".
func forbidden(pkg string) string {
	switch {
	case strings.HasPrefix(pkg, module+"/test/"):
		return "a test package"
	case strings.HasPrefix(pkg, "github.com/onsi/"):
		return "a test framework"
	}
	return ""
}

// TestBinariesImportNoTestCode lists every main package of the module outside
// test/ and fails naming each forbidden package a binary links and the
// package that imports it.
func TestBinariesImportNoTestCode(t *testing.T) {
	readSources(t)
	mains := goList(t, "-f", `{{if eq .Name "main"}}{{.ImportPath}}{{end}}`, "./...")
	mains = slices.DeleteFunc(mains, func(p string) bool { return strings.HasPrefix(p, module+"/test/") })
	for _, want := range []string{module, module + "/cmd/kubectl-crmflow", module + "/hack/dev", module + "/hack/bench-e2e"} {
		if !slices.Contains(mains, want) {
			t.Fatalf("main package %s not found among %v: the listing is wrong", want, mains)
		}
	}
	for _, bin := range mains {
		// One line per dependency: the package, then what it imports.
		lines := goList(t, "-deps", "-f", `{{.ImportPath}} {{join .Imports " "}}`, bin)
		for _, line := range lines {
			fields := strings.Fields(line)
			for _, imp := range fields[1:] {
				if why := forbidden(imp); why != "" {
					t.Errorf("binary %s links %s, %s: imported by %s", bin, imp, why, fields[0])
				}
			}
		}
	}
}

// TestForbiddenIsNotVacuous: the rule recognises what it must refuse.
func TestForbiddenIsNotVacuous(t *testing.T) {
	for _, pkg := range []string{module + "/test/servers", module + "/test/fixture", "github.com/onsi/gomega", "github.com/onsi/ginkgo/v2"} {
		if forbidden(pkg) == "" {
			t.Errorf("%s is allowed", pkg)
		}
	}
	for _, pkg := range []string{module + "/runner", module + "/runner/cloudevents", "k8s.io/client-go/rest"} {
		if forbidden(pkg) != "" {
			t.Errorf("%s is refused", pkg)
		}
	}
}

// goList runs go list in the module root and returns its non-empty lines.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = root()
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			msg = string(ee.Stderr)
		}
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, msg)
	}
	return slices.DeleteFunc(strings.Split(string(out), "\n"), func(s string) bool { return strings.TrimSpace(s) == "" })
}

// readSources reads the module's directories and stats its Go files and
// go.mod. go list runs in a child process, whose reads the test cache does not
// see; reading them here makes any change to an import invalidate a cached
// pass.
func readSources(t *testing.T) {
	t.Helper()
	err := walkSources(func(path string) error {
		if strings.HasSuffix(path, ".go") || filepath.Base(path) == "go.mod" {
			_, err := os.Stat(path)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read the module's sources: %v", err)
	}
}

// walkSources calls fn with every file of the module's source tree: not git's,
// built tools, npm's tree, the console's build or test data.
func walkSources(fn func(path string) error) error {
	return filepath.WalkDir(root(), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "bin", "node_modules", "web", "testdata", "dist":
				return filepath.SkipDir
			}
			return nil
		}
		return fn(path)
	})
}

// root is the module root, two levels above this file.
func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}
