package deps

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// serverImports are the packages whose use starts a real API server, a browser
// or a database: a test file importing one belongs to the suites, not to the
// unit build.
var serverImports = []string{
	"sigs.k8s.io/controller-runtime/pkg/envtest",
	module + "/test/testenv",
	"github.com/chromedp/chromedp",
}

// startsPostgres is the call that starts the history store's PostgreSQL
// (its package is imported by the unit build for a type); spelt in two
// pieces so this file does not match itself.
const startsPostgres = "pgserver" + ".Start("

// TestServerSuitesAreOutOfTheUnitBuild: every test file that starts an API
// server, Chromium or PostgreSQL carries `//go:build !unit`, so `make
// test-unit` (go test -tags unit ./...) stays a run of pure tests.
func TestServerSuitesAreOutOfTheUnitBuild(t *testing.T) {
	fset := token.NewFileSet()
	checked := 0
	err := walkSources(func(path string) error {
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(fset, path, src, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		needs := strings.Contains(string(src), startsPostgres)
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			for _, s := range serverImports {
				needs = needs || p == s
			}
		}
		if !needs {
			return nil
		}
		checked++
		rel, _ := filepath.Rel(root(), path)
		if !strings.HasPrefix(string(src), "//go:build !unit\n") {
			t.Errorf("%s starts a server (envtest, Chromium or PostgreSQL) but lacks the first line //go:build !unit", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read the test files: %v", err)
	}
	if checked == 0 {
		t.Fatal("found no suite that starts a server: the scan is wrong")
	}
}
