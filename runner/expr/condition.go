package expr

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/runner/jsonvalue"
)

// FieldError is a problem with one field of a structured condition; Field is
// relative to the condition ("value", "operator", "field").
type FieldError struct {
	Field   string
	Message string
}

// Error writes "field: message".
func (f *FieldError) Error() string { return f.Field + ": " + f.Message }

// knownRoots are variables a structured field may start with; any other
// first segment is read from data (e.g. "score" means data.score).
var knownRoots = map[string]bool{
	VarEvent: true, VarData: true, VarContact: true, VarLead: true, VarTicket: true,
	VarConversation: true, VarMessage: true, VarAppointment: true, VarSubject: true,
	VarSteps: true, VarRun: true, VarWorkflow: true, VarNow: true,
}

// celReserved are words CEL does not accept after a dot.
var celReserved = map[string]bool{
	"as": true, "break": true, "const": true, "continue": true, "else": true, "false": true,
	"for": true, "function": true, "if": true, "import": true, "in": true, "let": true,
	"loop": true, "package": true, "namespace": true, "null": true, "return": true,
	"true": true, "var": true, "void": true, "while": true,
}

var fieldPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)

// fieldPath splits a dotted path into CEL select steps, rooted at a variable.
func fieldPath(field string) ([]string, error) {
	if !fieldPattern.MatchString(field) {
		return nil, fmt.Errorf("%q is not a dotted path like lead.source", field)
	}
	parts := strings.Split(field, ".")
	if (parts[0] == VarNow || parts[0] == VarSubject) && len(parts) > 1 {
		return nil, fmt.Errorf("%q: %s has no fields", field, parts[0])
	}
	if !knownRoots[parts[0]] {
		parts = append([]string{VarData}, parts...)
	}
	for _, p := range parts[1:] {
		if celReserved[p] {
			return nil, fmt.Errorf("%q: %q is a reserved word in CEL; use an expression with [\"%s\"]", field, p, p)
		}
	}
	return parts, nil
}

// ConditionCEL translates a structured condition (field, operator, value as
// raw JSON) into one CEL expression. Wrong value types are FieldErrors.
func ConditionCEL(field, operator string, value []byte) (string, error) {
	parts, err := fieldPath(field)
	if err != nil {
		return "", &FieldError{Field: "field", Message: err.Error()}
	}
	x := strings.Join(parts, ".")
	var v any
	hasValue := len(value) > 0 && string(value) != "null"
	if hasValue {
		// An id above 2^53 stays exact, as the event's does: as a double
		// literal it would equal its neighbours too.
		if v, err = jsonvalue.Unmarshal(value); err != nil {
			return "", &FieldError{Field: "value", Message: fmt.Sprintf("not JSON: %v", err)}
		}
	}
	need := func(what string) error {
		return &FieldError{Field: "value", Message: fmt.Sprintf("%s needs %s", operator, what)}
	}
	switch operator {
	case "Exists", "NotExists":
		if hasValue {
			return "", &FieldError{Field: "value", Message: operator + " takes no value"}
		}
		src := existsCEL(parts)
		if operator == "NotExists" {
			return "!(" + src + ")", nil
		}
		return src, nil
	}
	if !hasValue {
		return "", need("a value")
	}
	if len(parts) == 1 && isEntityName(parts[0]) {
		return "", &FieldError{Field: "field", Message: fmt.Sprintf(
			"%s is a whole object, not a value; compare one of its fields, e.g. %s.id", parts[0], parts[0])}
	}
	switch operator {
	case "Equals", "NotEquals":
		lit, ok := scalarLiteral(v)
		if !ok {
			return "", need("a string, number or bool")
		}
		op := "=="
		if operator == "NotEquals" {
			op = "!="
		}
		return fmt.Sprintf("%s %s %s", x, op, lit), nil
	case "Contains", "NotContains":
		lit, ok := scalarLiteral(v)
		if !ok {
			return "", need("a string, number or bool")
		}
		src := fmt.Sprintf("(type(%[1]s) == list ? %[2]s in %[1]s : string(%[1]s).contains(string(%[2]s)))", x, lit)
		if operator == "NotContains" {
			return "!" + src, nil
		}
		return src, nil
	case "In", "NotIn":
		list, ok := v.([]any)
		if !ok {
			return "", need("a list")
		}
		lits := make([]string, 0, len(list))
		for i, e := range list {
			lit, ok := scalarLiteral(e)
			if !ok {
				return "", &FieldError{Field: fmt.Sprintf("value[%d]", i), Message: "must be a string, number or bool"}
			}
			lits = append(lits, lit)
		}
		src := fmt.Sprintf("%s in [%s]", x, strings.Join(lits, ", "))
		if operator == "NotIn" {
			return "!(" + src + ")", nil
		}
		return src, nil
	case "GreaterThan", "LessThan":
		lit, ok := numberLiteral(v)
		if !ok {
			return "", need("a number")
		}
		op := ">"
		if operator == "LessThan" {
			op = "<"
		}
		return fmt.Sprintf("%s %s %s", x, op, lit), nil
	case "Matches":
		s, ok := v.(string)
		if !ok {
			return "", need("a regular expression string")
		}
		if _, err := regexp.Compile(s); err != nil {
			return "", &FieldError{Field: "value", Message: fmt.Sprintf("invalid regular expression: %v", err)}
		}
		return fmt.Sprintf("string(%s).matches(%s)", x, strconv.Quote(s)), nil
	case "Before", "After":
		s, ok := v.(string)
		if !ok {
			return "", need("an RFC 3339 time string")
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return "", need(fmt.Sprintf("an RFC 3339 time, got %q", s))
		}
		op := "<"
		if operator == "After" {
			op = ">"
		}
		return fmt.Sprintf("toTimestamp(%s, \"UTC\") %s timestamp(%s)", x, op, strconv.Quote(s)), nil
	default:
		return "", &FieldError{Field: "operator", Message: fmt.Sprintf("unknown operator %q (want Equals, NotEquals, Contains, NotContains, In, NotIn, Exists, NotExists, GreaterThan, LessThan, Matches, Before or After)", operator)}
	}
}

// existsCEL checks every level, so a.b.c on a missing a is false, not an
// error; a present null counts as missing.
func existsCEL(parts []string) string {
	if len(parts) == 1 {
		return parts[0] + " != null"
	}
	var checks []string
	for i := 2; i <= len(parts); i++ {
		checks = append(checks, "has("+strings.Join(parts[:i], ".")+")")
	}
	checks = append(checks, strings.Join(parts, ".")+" != null")
	return strings.Join(checks, " && ")
}

func scalarLiteral(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return numberLiteral(v)
}

// numberLiteral writes a JSON number as CEL: a double, or an int (uint)
// literal for an integer above 2^53, which jsonvalue keeps exact. A whole
// double of at least 2^53 is an int literal too: CEL compares an int with a
// double as doubles, and the id 9007199254740993 as a double is 2^53.
func numberLiteral(v any) (string, bool) {
	switch x := v.(type) {
	case float64:
		if x == math.Trunc(x) && math.Abs(x) >= jsonvalue.MaxExactInt && math.Abs(x) < math.MaxInt64 {
			return strconv.FormatInt(int64(x), 10), true
		}
		return floatLiteral(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case uint64:
		return strconv.FormatUint(x, 10) + "u", true
	}
	return "", false
}

// floatLiteral writes a CEL double literal: 5 → "5.0", 0.3 → "0.3".
func floatLiteral(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eEn") {
		s += ".0"
	}
	return s
}

// BusinessHoursCEL is the CEL of a businessHours condition: the trigger time
// (now) lies inside the window.
func BusinessHoursCEL(zone string, days []string, from, to string) (string, error) {
	if _, err := ParseWindow(zone, days, from, to); err != nil {
		return "", err
	}
	zone = v1alpha1.TimeZoneOrDefault(zone)
	if len(days) == 0 {
		days = defaultDays()
	}
	q := make([]string, len(days))
	for i, d := range days {
		q[i] = strconv.Quote(d)
	}
	return fmt.Sprintf("inBusinessHours(now, %s, [%s], %s, %s)", strconv.Quote(zone), strings.Join(q, ", "), strconv.Quote(from), strconv.Quote(to)), nil
}

// isEntityName reports whether name is one of the entity variables (contact,
// lead, …), which hold objects that no structured operator but Exists compares.
func isEntityName(name string) bool {
	for _, n := range EntityNames {
		if n == name {
			return true
		}
	}
	return false
}
