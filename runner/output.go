package runner

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/crmflow/crmflow/runner/expr"
	"github.com/crmflow/crmflow/runner/jsonvalue"
	"github.com/crmflow/crmflow/runner/template"
)

// capOutput encodes a step's output within max bytes: long strings are
// shortened first; if that is not enough the output becomes
// {"truncated": true, "bytes": n}.
func capOutput(out map[string]any, max int) *runtime.RawExtension {
	if len(out) == 0 {
		return nil
	}
	raw, err := template.MarshalJSON(expr.JSONable(out))
	if err != nil {
		raw, _ = template.MarshalJSON(map[string]any{"error": fmt.Sprintf("output is not JSON: %v", err)})
	}
	for _, limit := range []int{max / 2, max / 8, 64} {
		if len(raw) <= max {
			break
		}
		raw, _ = template.MarshalJSON(shortenStrings(expr.JSONable(out), limit))
	}
	if len(raw) > max {
		raw, _ = template.MarshalJSON(map[string]any{"truncated": true, "bytes": len(raw)})
	}
	return &runtime.RawExtension{Raw: raw}
}

func shortenStrings(v any, limit int) any {
	switch x := v.(type) {
	case string:
		return truncate(x, limit)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = shortenStrings(e, limit)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = shortenStrings(e, limit)
		}
		return out
	}
	return v
}

// decodeOutput reads a step's output back for expressions, with an id
// above 2^53 as exact as the response that carried it.
func decodeOutput(raw *runtime.RawExtension) map[string]any {
	if raw == nil || len(raw.Raw) == 0 {
		return map[string]any{}
	}
	out, err := jsonvalue.UnmarshalObject(raw.Raw)
	if err != nil || out == nil {
		return map[string]any{} // a foreign or broken output reads as empty
	}
	return out
}
