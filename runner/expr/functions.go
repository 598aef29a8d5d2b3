package expr

import (
	"fmt"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// timeFunctions declares the time-zone and business-hours helpers:
//
//	inBusinessHours(t, zone, days, from, to) bool
//	nextBusinessHours(t, zone, days, from, to) timestamp
//	localTime(t, zone) string     // RFC 3339 with the zone's offset
//	localDate(t, zone) string     // YYYY-MM-DD in the zone
//	weekday(t, zone) string       // Mon … Sun in the zone
//	toTimestamp(value, zone) timestamp  // timestamp, RFC 3339 string or YYYY-MM-DD (midnight in zone)
func timeFunctions() []cel.EnvOption {
	listStr := cel.ListType(cel.StringType)
	windowArgs := []*cel.Type{cel.TimestampType, cel.StringType, listStr, cel.StringType, cel.StringType}
	return []cel.EnvOption{
		cel.Function("inBusinessHours",
			cel.Overload("inBusinessHours_timestamp_string_list_string_string", windowArgs, cel.BoolType,
				cel.FunctionBinding(func(args ...ref.Val) ref.Val {
					t, w, err := windowCall(args)
					if err != nil {
						return types.NewErr("inBusinessHours: %v", err)
					}
					return types.Bool(w.Contains(t))
				}))),
		cel.Function("nextBusinessHours",
			cel.Overload("nextBusinessHours_timestamp_string_list_string_string", windowArgs, cel.TimestampType,
				cel.FunctionBinding(func(args ...ref.Val) ref.Val {
					t, w, err := windowCall(args)
					if err != nil {
						return types.NewErr("nextBusinessHours: %v", err)
					}
					return types.Timestamp{Time: w.Next(t).UTC()}
				}))),
		cel.Function("localTime",
			cel.Overload("localTime_timestamp_string", []*cel.Type{cel.TimestampType, cel.StringType}, cel.StringType,
				cel.BinaryBinding(zoned("localTime", func(t time.Time) string { return t.Format(time.RFC3339) })))),
		cel.Function("localDate",
			cel.Overload("localDate_timestamp_string", []*cel.Type{cel.TimestampType, cel.StringType}, cel.StringType,
				cel.BinaryBinding(zoned("localDate", func(t time.Time) string { return t.Format(time.DateOnly) })))),
		cel.Function("weekday",
			cel.Overload("weekday_timestamp_string", []*cel.Type{cel.TimestampType, cel.StringType}, cel.StringType,
				cel.BinaryBinding(zoned("weekday", func(t time.Time) string { return t.Weekday().String()[:3] })))),
		cel.Function("toTimestamp",
			cel.Overload("toTimestamp_dyn_string", []*cel.Type{cel.DynType, cel.StringType}, cel.TimestampType,
				cel.BinaryBinding(func(v, zone ref.Val) ref.Val {
					loc, err := LoadZone(string(zone.(types.String)))
					if err != nil {
						return types.NewErr("toTimestamp: %v", err)
					}
					t, err := ToTime(Native(v), loc)
					if err != nil {
						return types.NewErr("toTimestamp: %v", err)
					}
					return types.Timestamp{Time: t}
				}))),
	}
}

func zoned(name string, f func(time.Time) string) func(ref.Val, ref.Val) ref.Val {
	return func(ts, zone ref.Val) ref.Val {
		loc, err := LoadZone(string(zone.(types.String)))
		if err != nil {
			return types.NewErr("%s: %v", name, err)
		}
		return types.String(f(ts.(types.Timestamp).In(loc)))
	}
}

func windowCall(args []ref.Val) (time.Time, Window, error) {
	if len(args) != 5 {
		return time.Time{}, Window{}, fmt.Errorf("want 5 arguments, got %d", len(args))
	}
	t := args[0].(types.Timestamp).Time
	list, ok := args[2].(traits.Lister)
	if !ok {
		return t, Window{}, fmt.Errorf("days must be a list of strings")
	}
	var days []string
	it := list.Iterator()
	for it.HasNext() == types.True {
		s, ok := it.Next().(types.String)
		if !ok {
			return t, Window{}, fmt.Errorf("days must be a list of strings")
		}
		days = append(days, string(s))
	}
	w, err := ParseWindow(string(args[1].(types.String)), days, string(args[3].(types.String)), string(args[4].(types.String)))
	return t, w, err
}

// ToTime turns a timestamp, an RFC 3339 string or a YYYY-MM-DD date
// (midnight in loc) into a time.
func ToTime(v any, loc *time.Location) (time.Time, error) {
	switch x := v.(type) {
	case time.Time:
		return x, nil
	case string:
		if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
			return t, nil
		}
		if t, err := time.ParseInLocation(time.DateOnly, x, loc); err == nil {
			return t, nil
		}
		return time.Time{}, fmt.Errorf("%q is neither RFC 3339 nor YYYY-MM-DD", x)
	default:
		return time.Time{}, fmt.Errorf("%v (%T) is not a time", v, v)
	}
}

// fallbackFunction declares default(value, fallback): fallback when value is
// missing (a key the event did not send), null or an empty string, else
// value — the personalization-token fallback of CRMs ("Hi {{ default(
// contact.firstName, "there") }}"). It is non-strict, so the missing-key
// error of its first argument reaches it instead of failing the expression.
// CEL optionals do the same for one field: contact.?lastName.orValue("").
func fallbackFunction() cel.EnvOption {
	return cel.Function("default",
		cel.Overload("default_dyn_dyn", []*cel.Type{cel.DynType, cel.DynType}, cel.DynType,
			cel.OverloadIsNonStrict(),
			cel.BinaryBinding(func(v, fallback ref.Val) ref.Val {
				switch {
				case types.IsUnknown(v):
					return v
				case types.IsError(v), v == types.NullValue, v == types.String(""):
					return fallback
				}
				return v
			})))
}
