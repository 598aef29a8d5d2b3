// Package template renders crmflow's `{{ expr }}` templates: every
// expression is CEL, compiled once with the environment of runner/expr, and
// its value is written as text (timestamps in RFC 3339, whole numbers
// without ".0", lists and maps as JSON). JSON templates escape values that
// land inside JSON strings and write other values as JSON.
package template

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/crmflow/crmflow/runner/expr"
)

// Error is a template problem at a 1-based line and column of the template text.
type Error struct {
	Line, Column int
	Message      string
}

// Error writes "line:col: message".
func (e *Error) Error() string { return fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Message) }

// Errors lists a template's problems.
type Errors []*Error

// Error joins the problems with "; ".
func (e Errors) Error() string {
	s := make([]string, len(e))
	for i, x := range e {
		s[i] = x.Error()
	}
	return strings.Join(s, "; ")
}

type part struct {
	lit      string
	prg      *expr.Program
	inString bool // JSON mode: the expression sits inside a JSON string
}

// Template is a compiled template.
type Template struct {
	src   string
	parts []part
	json  bool
}

// Compile parses src and compiles each {{ expr }} in env.
func Compile(env *expr.Env, src string) (*Template, error) {
	return compile(env, src, false)
}

// CompileJSON compiles a JSON document template. Values inside JSON strings
// are escaped; values elsewhere are written as JSON. The document must be
// valid JSON whatever the values are.
func CompileJSON(env *expr.Env, src string) (*Template, error) {
	return compile(env, src, true)
}

func compile(env *expr.Env, src string, jsonMode bool) (*Template, error) {
	t := &Template{src: src, json: jsonMode}
	var errs Errors
	rest, offset := src, 0
	inString := false
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			if rest != "" {
				t.parts = append(t.parts, part{lit: rest})
			}
			break
		}
		if i > 0 {
			t.parts = append(t.parts, part{lit: rest[:i]})
		}
		if jsonMode {
			inString = scanJSONString(rest[:i], inString)
		}
		end := closing(rest[i+2:])
		if end < 0 {
			l, c := position(src, offset+i)
			errs = append(errs, &Error{Line: l, Column: c, Message: "unterminated {{: missing }}"})
			break
		}
		code := rest[i+2 : i+2+end]
		start := offset + i + 2
		if strings.TrimSpace(code) == "" {
			l, c := position(src, offset+i)
			errs = append(errs, &Error{Line: l, Column: c, Message: "empty {{ }}"})
		} else if prg, err := env.Compile(code, expr.AnyOutput); err != nil {
			errs = append(errs, shift(src, start, code, err)...)
		} else {
			t.parts = append(t.parts, part{prg: prg, inString: inString})
		}
		consumed := i + 2 + end + 2
		rest, offset = rest[consumed:], offset+consumed
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if jsonMode {
		if err := t.checkJSON(); err != nil {
			return nil, Errors{{Line: 1, Column: 1, Message: err.Error()}}
		}
	}
	return t, nil
}

// closing finds the "}}" that ends an expression, skipping quoted strings
// and balanced braces (map literals). -1 when there is none.
func closing(s string) int {
	depth := 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			switch c {
			case '\\':
				i++
			case quote:
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '{':
			depth++
		case c == '}':
			if depth == 0 && i+1 < len(s) && s[i+1] == '}' {
				return i
			}
			if depth > 0 {
				depth--
			}
		}
	}
	return -1
}

// scanJSONString returns whether a JSON text is inside a string after lit,
// given the state before it.
func scanJSONString(lit string, in bool) bool {
	for i := 0; i < len(lit); i++ {
		switch c := lit[i]; {
		case in && c == '\\':
			i++
		case c == '"':
			in = !in
		}
	}
	return in
}

// position turns a byte offset of src into a 1-based line and column.
func position(src string, off int) (int, int) {
	if off > len(src) {
		off = len(src)
	}
	before := src[:off]
	line := strings.Count(before, "\n") + 1
	col := off - strings.LastIndex(before, "\n")
	return line, col
}

// shift moves CEL positions (relative to code) to positions in the template.
func shift(src string, start int, code string, err error) Errors {
	var ces expr.CompileErrors
	if !errors.As(err, &ces) {
		l, c := position(src, start)
		return Errors{{Line: l, Column: c, Message: err.Error()}}
	}
	var out Errors
	for _, ce := range ces {
		off := start
		lines := strings.SplitAfter(code, "\n")
		for i := 0; i < ce.Pos.Line-1 && i < len(lines); i++ {
			off += len(lines[i])
		}
		off += ce.Pos.Column - 1
		l, c := position(src, off)
		out = append(out, &Error{Line: l, Column: c, Message: ce.Message})
	}
	return out
}

// checkJSON renders the template with placeholders and checks the result
// parses, and that every expression outside a JSON string stands alone as a
// value (so `1{{ x }}` is refused even though "10" would parse).
func (t *Template) checkJSON() error {
	for i, p := range t.parts {
		if p.prg == nil || p.inString {
			continue
		}
		if i > 0 && t.parts[i-1].prg != nil || i+1 < len(t.parts) && t.parts[i+1].prg != nil {
			return fmt.Errorf("{{%s}} must be a JSON value of its own, not next to another {{ }}", p.prg.Source)
		}
		if i > 0 && !strings.ContainsRune("[:,", lastNonSpace(t.parts[i-1].lit)) {
			return fmt.Errorf("{{%s}} must be a JSON value of its own: put it after ':', ',' or '[', or inside quotes", p.prg.Source)
		}
		if i+1 < len(t.parts) && !strings.ContainsRune("]},", firstNonSpace(t.parts[i+1].lit)) {
			return fmt.Errorf("{{%s}} must be a JSON value of its own: follow it with ',', ']' or '}', or put it inside quotes", p.prg.Source)
		}
	}
	var b strings.Builder
	for _, p := range t.parts {
		switch {
		case p.prg == nil:
			b.WriteString(p.lit)
		case p.inString:
			b.WriteString("x")
		default:
			b.WriteString("0")
		}
	}
	if b.Len() == 0 {
		return nil
	}
	var v any
	if err := json.Unmarshal([]byte(b.String()), &v); err != nil {
		return fmt.Errorf("not a valid JSON document: %w", err)
	}
	return nil
}

func lastNonSpace(s string) rune {
	s = strings.TrimRight(s, " \t\r\n")
	if s == "" {
		return 0
	}
	return rune(s[len(s)-1])
}

func firstNonSpace(s string) rune {
	s = strings.TrimLeft(s, " \t\r\n")
	if s == "" {
		return 0
	}
	return rune(s[0])
}

// Source is the template text.
func (t *Template) Source() string { return t.src }

// Static reports whether the template has no expressions.
func (t *Template) Static() bool {
	for _, p := range t.parts {
		if p.prg != nil {
			return false
		}
	}
	return true
}

// Render evaluates every expression and writes the text.
func (t *Template) Render(vars map[string]any) (string, error) {
	if len(t.parts) == 1 && t.parts[0].prg == nil {
		return t.parts[0].lit, nil
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.prg == nil {
			b.WriteString(p.lit)
			continue
		}
		v, err := p.prg.Eval(vars)
		if err != nil {
			return "", err
		}
		if !t.json {
			b.WriteString(expr.Stringify(v))
			continue
		}
		if p.inString {
			enc, err := MarshalJSON(expr.Stringify(v))
			if err != nil {
				return "", err
			}
			b.Write(enc[1 : len(enc)-1])
			continue
		}
		enc, err := MarshalJSON(expr.JSONable(expr.Native(v)))
		if err != nil {
			return "", fmt.Errorf("write %q as JSON: %w", p.prg.Source, err)
		}
		b.Write(enc)
	}
	if t.json && !json.Valid([]byte(b.String())) {
		return "", fmt.Errorf("rendered JSON document is not valid JSON")
	}
	return b.String(), nil
}

// Value renders the template, except that a template made of a single
// {{ expr }} yields the expression's plain value (number, bool, list, map),
// so JSON payloads keep their types.
func (t *Template) Value(vars map[string]any) (any, error) {
	if len(t.parts) == 1 && t.parts[0].prg != nil && !t.json {
		v, err := t.parts[0].prg.Eval(vars)
		if err != nil {
			return nil, err
		}
		return expr.JSONable(expr.Native(v)), nil
	}
	return t.Render(vars)
}

// MarshalJSON encodes v as compact JSON without HTML escaping (so "<" stays
// readable) and without a trailing newline.
func MarshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}
