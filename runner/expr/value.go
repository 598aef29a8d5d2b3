package expr

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// Native converts a CEL value into plain Go: string, int64, uint64,
// float64, bool, nil, time.Time, time.Duration, []byte, []any or
// map[string]any, the shapes encoding/json writes.
func Native(v ref.Val) any {
	switch x := v.(type) {
	case nil:
		return nil
	case types.String:
		return string(x)
	case types.Int:
		return int64(x)
	case types.Uint:
		return uint64(x)
	case types.Double:
		return float64(x)
	case types.Bool:
		return bool(x)
	case types.Null:
		return nil
	case types.Timestamp:
		return x.Time
	case types.Duration:
		return x.Duration
	case types.Bytes:
		return []byte(x)
	case traits.Mapper:
		out := map[string]any{}
		it := x.Iterator()
		for it.HasNext() == types.True {
			k := it.Next()
			out[Stringify(k)] = Native(x.Get(k))
		}
		return out
	case traits.Lister:
		var out []any
		it := x.Iterator()
		for it.HasNext() == types.True {
			out = append(out, Native(it.Next()))
		}
		if out == nil {
			out = []any{}
		}
		return out
	default:
		return v.Value()
	}
}

// Stringify renders a CEL value for a template: strings as they are,
// timestamps in RFC 3339, numbers without a trailing ".0", null as "",
// lists and maps as JSON.
func Stringify(v ref.Val) string {
	return StringifyNative(Native(v))
}

// StringifyNative renders a plain Go value the way Stringify does.
func StringifyNative(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case float64:
		return FormatFloat(x)
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		return FormatTime(x)
	case time.Duration:
		return x.String()
	case []byte:
		return base64.StdEncoding.EncodeToString(x)
	default:
		b, err := json.Marshal(JSONable(x))
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	}
}

// FormatFloat writes 5.0 as "5" and 0.25 as "0.25"; NaN and infinities as Go does.
func FormatFloat(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// FormatTime writes t in UTC, RFC 3339, with fractional seconds only when present.
func FormatTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

// JSONable rewrites times, durations and non-finite floats inside v so that
// encoding/json can write it the way templates show them.
func JSONable(v any) any {
	switch x := v.(type) {
	case time.Time:
		return FormatTime(x)
	case time.Duration:
		return x.String()
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return FormatFloat(x)
		}
		return x
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = JSONable(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = JSONable(e)
		}
		return out
	default:
		return v
	}
}
