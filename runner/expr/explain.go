package expr

import (
	"errors"
	"sort"
	"strconv"
	"strings"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
)

// maxExplained bounds how many field values a message shows.
const maxExplained = 4

// fieldPaths lists the dotted field paths an expression reads (contact.country,
// lead.source, data.score, subject), longest first and without paths that
// another one extends, so a false condition can show the values that decided.
func fieldPaths(a *cel.Ast) []string {
	seen := map[string]bool{}
	celast.PostOrderVisit(a.NativeRep().Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		if p, ok := selectPath(e); ok && strings.Contains(p, ".") || p == VarSubject || p == VarNow {
			seen[p] = true
		}
	}))
	var out []string
	for p := range seen {
		extended := false
		for q := range seen {
			if q != p && strings.HasPrefix(q, p+".") {
				extended = true
				break
			}
		}
		if !extended {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	if len(out) > maxExplained {
		out = out[:maxExplained]
	}
	return out
}

// selectPath turns a chain of field selections on a variable of the
// environment into its dotted path; has() tests and anything else are not paths.
func selectPath(e celast.Expr) (string, bool) {
	switch e.Kind() {
	case celast.IdentKind:
		name := e.AsIdent()
		return name, knownRoots[name]
	case celast.SelectKind:
		s := e.AsSelect()
		if s.IsTestOnly() {
			return "", false
		}
		base, ok := selectPath(s.Operand())
		if !ok {
			return "", false
		}
		return base + "." + s.FieldName(), true
	}
	return "", false
}

// explainer evaluates the field paths of one expression.
type explainer struct {
	paths []string
	prgs  []cel.Program
}

func (e *Env) newExplainer(a *cel.Ast) *explainer {
	x := &explainer{}
	for _, p := range fieldPaths(a) {
		pa, iss := e.env.Compile(p)
		if iss != nil && iss.Err() != nil {
			continue
		}
		prg, err := e.env.Program(pa, cel.CostLimit(e.costLimit))
		if err != nil {
			continue
		}
		x.paths, x.prgs = append(x.paths, p), append(x.prgs, prg)
	}
	return x
}

// Explain shows the values of the fields the expression reads, e.g.
// `contact.country = "DE"` or `lead.source is missing`, joined with ", ";
// "" when it reads none.
func (p *Program) Explain(vars map[string]any) string {
	if p.ast == nil {
		return ""
	}
	p.explainOnce.Do(func() { p.explain = p.env.newExplainer(p.ast) })
	parts := make([]string, 0, len(p.explain.paths))
	for i, path := range p.explain.paths {
		v, _, err := p.explain.prgs[i].Eval(vars)
		if err == nil && v != nil {
			if e, ok := v.Value().(error); ok {
				err = e
			}
		}
		if err != nil {
			if errors.Is(classify(err), ErrMissing) {
				parts = append(parts, path+" is missing")
			}
			continue
		}
		parts = append(parts, path+" = "+quoteValue(Native(v)))
	}
	return strings.Join(parts, ", ")
}

// quoteValue writes a value the way it reads in an expression: strings
// quoted, other values as in templates, long values cut.
func quoteValue(v any) string {
	var s string
	if v == nil {
		return "null"
	}
	if str, ok := v.(string); ok {
		s = strconv.Quote(str)
	} else {
		s = StringifyNative(v)
	}
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}
