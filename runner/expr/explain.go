package expr

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
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

// comparedOperators are the CEL operators whose "no such overload" usually
// means operands of different types: a CRM that sends "0.1" for a score.
var comparedOperators = map[string]bool{
	"_<_": true, "_<=_": true, "_>_": true, "_>=_": true, "_==_": true, "_!=_": true,
	"_+_": true, "_-_": true, "_*_": true, "_/_": true, "_%_": true,
}

// operand is one side of an operator: a field path (with the program that
// reads it) or a literal.
type operand struct {
	path    string
	prg     cel.Program
	literal ref.Val
}

// overloadExplainer holds the operator calls an expression makes on field paths.
type overloadExplainer struct {
	pairs [][2]operand
}

func (e *Env) newOverloadExplainer(a *cel.Ast) *overloadExplainer {
	x := &overloadExplainer{}
	compiled := map[string]cel.Program{}
	side := func(arg celast.Expr) (operand, bool) {
		if arg.Kind() == celast.LiteralKind {
			return operand{literal: arg.AsLiteral()}, true
		}
		p, ok := selectPath(arg)
		if !ok {
			return operand{}, false
		}
		prg, seen := compiled[p]
		if !seen {
			if pa, iss := e.env.Compile(p); iss == nil || iss.Err() == nil {
				prg, _ = e.env.Program(pa, cel.CostLimit(e.costLimit))
			}
			compiled[p] = prg
		}
		return operand{path: p, prg: prg}, prg != nil
	}
	celast.PostOrderVisit(a.NativeRep().Expr(), celast.NewExprVisitor(func(ex celast.Expr) {
		if ex.Kind() != celast.CallKind || len(x.pairs) >= maxExplained {
			return
		}
		call := ex.AsCall()
		if !comparedOperators[call.FunctionName()] || len(call.Args()) != 2 {
			return
		}
		l, lok := side(call.Args()[0])
		r, rok := side(call.Args()[1])
		if lok && rok && (l.path != "" || r.path != "") {
			x.pairs = append(x.pairs, [2]operand{l, r})
		}
	}))
	return x
}

// explainOverload says which operands of an operator have types that do not
// go together, e.g. `message.sentiment.score is a string ("0.1"), compared
// with a number (0.3); convert it, e.g. double(message.sentiment.score)`;
// "" when it finds none. It runs only after an evaluation failed.
func (p *Program) explainOverload(vars map[string]any) string {
	if p.ast == nil {
		return ""
	}
	p.overloadOnce.Do(func() { p.overload = p.env.newOverloadExplainer(p.ast) })
	for _, pair := range p.overload.pairs {
		var vals [2]ref.Val
		ok := true
		for i, o := range pair {
			if o.path == "" {
				vals[i] = o.literal
				continue
			}
			v, _, err := o.prg.Eval(vars)
			if err != nil || v == nil || types.IsError(v) {
				ok = false
				break
			}
			vals[i] = v
		}
		if !ok {
			continue
		}
		lk, rk := kindOf(vals[0]), kindOf(vals[1])
		if lk == rk {
			continue
		}
		l, r := pair[0], pair[1]
		if l.path == "" { // the literal first: name the field first
			l, r = r, l
			lk, rk = rk, lk
			vals[0], vals[1] = vals[1], vals[0]
		}
		msg := fmt.Sprintf("%s is %s (%s), ", l.path, lk, quoteValue(Native(vals[0])))
		if r.path == "" {
			msg += fmt.Sprintf("compared with %s (%s)", rk, quoteValue(Native(vals[1])))
		} else {
			msg += fmt.Sprintf("%s is %s (%s)", r.path, rk, quoteValue(Native(vals[1])))
		}
		switch {
		case lk == "a string" && rk == "a number":
			msg += fmt.Sprintf("; convert it, e.g. double(%s)", l.path)
		case lk == "a number" && rk == "a string" && r.path != "":
			msg += fmt.Sprintf("; convert it, e.g. double(%s)", r.path)
		}
		return msg
	}
	return ""
}

// kindOf names a value's type the way a user reads JSON: ints, uints and
// doubles are all numbers (they compare with each other).
func kindOf(v ref.Val) string {
	switch v.Type() {
	case types.IntType, types.UintType, types.DoubleType:
		return "a number"
	case types.StringType:
		return "a string"
	case types.BoolType:
		return "a bool"
	case types.NullType:
		return "null"
	case types.ListType:
		return "a list"
	case types.MapType:
		return "a map"
	case types.TimestampType:
		return "a timestamp"
	case types.DurationType:
		return "a duration"
	case types.BytesType:
		return "bytes"
	}
	return v.Type().TypeName()
}
