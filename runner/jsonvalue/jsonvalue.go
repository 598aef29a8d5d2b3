// Package jsonvalue decodes the JSON that expressions and templates read
// (event data, step outputs, response bodies) into plain Go values, the way
// encoding/json decodes into an any, with one exception: an integer beyond
// 2^53 keeps its exact value.
//
// encoding/json reads every number as a float64, which holds integers
// exactly only up to 2^53 (9007199254740992). CRMs send numeric 64-bit ids
// (snowflakes, HubSpot- and Salesforce-style ids) above that, and as a
// float64 the id 9007199254740993 becomes 9007199254740992: a command, a
// webhook or an email would name another record. So an integer written
// without a fraction or exponent whose magnitude is above 2^53 decodes as
// int64, or as uint64 when it is above math.MaxInt64; CEL reads them as int
// and uint. Every other number stays a float64, so existing expressions
// such as `contact.score + 1.0` keep their types. An integer beyond the
// range of uint64 and int64 stays a float64 too (rounded, as before). The
// Kubernetes API server keeps int64s of a stored run exact but writes larger
// integers as float64s, so uint64s above math.MaxInt64 are exact only where
// nothing is stored (docs/expressions.md, "Numbers").
//
// Every reader of such JSON in the engine, the kubectl plugin and the
// console decodes with Unmarshal, so that no copy of a value loses what
// another kept.
package jsonvalue

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
)

// MaxExactInt is 2^53: every integer of at most this magnitude is exactly a
// float64, and stays one.
const MaxExactInt = 1 << 53

var floatType = reflect.TypeFor[float64]()

// minDigits is how many digits an integer above MaxExactInt has at least.
var minDigits = len(strconv.Itoa(MaxExactInt + 1))

// Unmarshal decodes one JSON document into string, float64, int64, uint64,
// bool, nil, []any and map[string]any values. It fails where json.Unmarshal
// into an any fails, with the same errors.
func Unmarshal(data []byte) (any, error) {
	var v any
	if !hasLongDigitRun(data) {
		// No number can be a large integer: the standard decoder gives the
		// same result, faster.
		err := json.Unmarshal(data, &v)
		return v, err
	}
	if !json.Valid(data) {
		return nil, json.Unmarshal(data, &v) // the standard error
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return convert(v)
}

// UnmarshalObject decodes a JSON object, as json.Unmarshal into a
// map[string]any does: null is a nil map, another type an error.
func UnmarshalObject(data []byte) (map[string]any, error) {
	v, err := Unmarshal(data)
	if err != nil || v == nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("json: cannot unmarshal %s into Go value of type map[string]interface {}", kind(v))
	}
	return m, nil
}

// hasLongDigitRun reports whether data holds minDigits digits in a row,
// which every integer above MaxExactInt does (digits inside strings count
// too; they only cost the slower decoder).
func hasLongDigitRun(data []byte) bool {
	run := 0
	for _, c := range data {
		if c >= '0' && c <= '9' {
			run++
			if run >= minDigits {
				return true
			}
			continue
		}
		run = 0
	}
	return false
}

// convert replaces the json.Numbers of a decoded value, in place.
func convert(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		return number(x)
	case map[string]any:
		for k, e := range x {
			c, err := convert(e)
			if err != nil {
				return nil, err
			}
			x[k] = c
		}
	case []any:
		for i, e := range x {
			c, err := convert(e)
			if err != nil {
				return nil, err
			}
			x[i] = c
		}
	}
	return v, nil
}

// number is the value of one JSON number: int64 or uint64 for an integer
// above MaxExactInt, else the float64 encoding/json reads.
func number(n json.Number) (any, error) {
	s := string(n)
	if isInteger(s) {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			if i > MaxExactInt || i < -MaxExactInt {
				return i, nil
			}
		} else if u, err := strconv.ParseUint(s, 10, 64); err == nil {
			return u, nil // above math.MaxInt64
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, &json.UnmarshalTypeError{Value: "number " + s, Type: floatType}
	}
	return f, nil
}

// isInteger reports whether a JSON number is written without a fraction or
// an exponent.
func isInteger(s string) bool {
	if s != "" && s[0] == '-' {
		s = s[1:]
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// kind names a decoded value's JSON type for an error.
func kind(v any) string {
	switch v.(type) {
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "bool"
	default:
		return "number"
	}
}
