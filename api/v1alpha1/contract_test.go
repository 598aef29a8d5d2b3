package v1alpha1

import (
	"fmt"
	"go/ast"
	"go/constant"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// repoRoot is the repository, two levels above this package.
const repoRoot = "../.."

// TestReasonsAndDefaultsLiveInTheAPI keeps every reason and every spec
// default in this package: it scans the repository's non-test Go files
// outside api/ and fails, naming file and line, on
//   - a string literal whose value is a reason of this package (a constant
//     named Reason*, Skip* or Wait*) and nothing else of it: "NotAdmitted"
//     can only be a reason, while "Paused" is also a WorkflowState and is
//     left alone;
//   - a constant or variable named Reason* declared with a string literal
//     (a reason of its own beside the API's);
//   - a constant or variable whose name says it is a spec default
//     (Default…HistoryLimit, …TTL…, …Attempts, …Backoff, …Reenroll,
//     …Concurrency, …TimeZone, …SMTPPort);
//   - the TTL default spelled out: "168h", or a time.Duration expression
//     worth 168 hours such as 7 * 24 * time.Hour;
//   - the SMTP port default 587.
//
// Tests are not scanned: they assert the literal values users see.
func TestReasonsAndDefaultsLiveInTheAPI(t *testing.T) {
	reasons := unambiguousReasons(t)
	if len(reasons) < 10 {
		t.Fatalf("found only %d reasons in api/v1alpha1; has the file layout changed?", len(reasons))
	}
	var problems []string
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, path)
		if d.IsDir() {
			switch d.Name() {
			case ".git", "bin", "node_modules", "testdata", "vendor", "dist":
				return filepath.SkipDir
			}
			if rel == "api" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || strings.HasPrefix(d.Name(), "zz_generated") {
			return nil
		}
		found, err := scanFile(path, rel, reasons)
		problems = append(problems, found...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) > 0 {
		t.Errorf("reasons and spec defaults belong in api/v1alpha1 (reasons.go, defaults.go); use the constants there instead:\n%s",
			strings.Join(problems, "\n"))
	}
}

// unambiguousReasons returns the values of this package's Reason*, Skip*
// and Wait* string constants that no other constant of the package spells,
// by the name of the constant.
func unambiguousReasons(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	reasons, others := map[string]string{}, map[string]bool{}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			g, ok := decl.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if i >= len(vs.Values) {
						continue
					}
					v, ok := stringLit(vs.Values[i])
					if !ok {
						continue
					}
					if isReasonName(id.Name) {
						reasons[v] = id.Name
					} else {
						others[v] = true
					}
				}
			}
		}
	}
	for v := range others {
		delete(reasons, v)
	}
	return reasons
}

func isReasonName(name string) bool {
	for _, p := range []string{"Reason", "Skip", "Wait"} {
		if rest, ok := strings.CutPrefix(name, p); ok && rest != "" && rest[0] >= 'A' && rest[0] <= 'Z' {
			return true
		}
	}
	return false
}

// specDefaultNames are the words in the name of a constant or variable
// that make it a spec default.
var specDefaultNames = []string{"historylimit", "ttl", "attempts", "backoff", "reenroll", "concurrency", "timezone", "smtpport"}

const ttlDefault = 168 * time.Hour

// scanFile reports what of the rules above path breaks.
func scanFile(path, rel string, reasons map[string]string) ([]string, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, 0)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", rel, err)
	}
	var out []string
	report := func(n ast.Node, format string, args ...any) {
		out = append(out, fmt.Sprintf("  %s:%d: %s", rel, fset.Position(n.Pos()).Line, fmt.Sprintf(format, args...)))
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.ValueSpec:
			for i, id := range n.Names {
				if i >= len(n.Values) {
					continue
				}
				lower := strings.ToLower(id.Name)
				if v, ok := stringLit(n.Values[i]); ok && isReasonName(id.Name) {
					report(n, "reason %s = %q declared outside the API", id.Name, v)
				}
				if strings.HasPrefix(lower, "default") {
					for _, w := range specDefaultNames {
						if strings.Contains(lower, w) {
							report(n, "spec default %s declared outside the API", id.Name)
							break
						}
					}
				}
			}
		case *ast.BasicLit:
			switch n.Kind {
			case token.STRING:
				v, _ := strconv.Unquote(n.Value)
				if name, ok := reasons[v]; ok {
					report(n, "reason literal %q: use v1alpha1.%s", v, name)
				}
				if v == "168h" {
					report(n, "TTL default literal %q: use v1alpha1.DefaultTTLAfterFinished", v)
				}
			case token.INT:
				if n.Value == "587" {
					report(n, "SMTP port default 587: use v1alpha1.DefaultSMTPPort")
				}
			}
		case *ast.BinaryExpr:
			if d, ok := hoursExpr(n); ok && d == ttlDefault {
				report(n, "TTL default %s spelled out: use v1alpha1.DefaultTTLAfterFinished", d)
				return false
			}
		}
		return true
	})
	sort.Strings(out)
	return out, nil
}

// hoursExpr evaluates a product of integer literals and time.Hour.
func hoursExpr(e ast.Expr) (time.Duration, bool) {
	var factor int64 = 1
	hour := false
	var walk func(ast.Expr) bool
	walk = func(e ast.Expr) bool {
		switch e := e.(type) {
		case *ast.ParenExpr:
			return walk(e.X)
		case *ast.BinaryExpr:
			return e.Op == token.MUL && walk(e.X) && walk(e.Y)
		case *ast.BasicLit:
			if e.Kind != token.INT {
				return false
			}
			v, ok := constant.Int64Val(constant.MakeFromLiteral(e.Value, e.Kind, 0))
			factor *= v
			return ok
		case *ast.SelectorExpr:
			if x, ok := e.X.(*ast.Ident); ok && x.Name == "time" && e.Sel.Name == "Hour" && !hour {
				hour = true
				return true
			}
		}
		return false
	}
	if !walk(e) || !hour {
		return 0, false
	}
	return time.Duration(factor) * time.Hour, true
}

// stringLit returns the value of a string literal (or a conversion of one,
// such as ConditionReason("x")).
func stringLit(e ast.Expr) (string, bool) {
	if c, ok := e.(*ast.CallExpr); ok && len(c.Args) == 1 {
		e = c.Args[0]
	}
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	v, err := strconv.Unquote(lit.Value)
	return v, err == nil
}
