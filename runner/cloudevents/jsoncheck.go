package cloudevents

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// MaxDataDepth is how deeply event data may nest objects and arrays. Real
// CRM payloads nest a handful of levels; a deeper document only costs the
// API server and every reader of the run (kubectl -o json) CPU and memory.
const MaxDataDepth = 64

// checkJSONShape refuses data nested deeper than maxDepth and numbers that
// do not fit a 64-bit float (1e400): CEL and the API server would read them
// as an error or infinity, so every workflow would skip the event.
// The message names the place in the data as a JSON pointer.
func checkJSONShape(data []byte, maxDepth int) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	// path holds, per open container, the key or index being read.
	type frame struct {
		array bool
		index int
		key   string
		// wantKey: in an object, the next string token is a key.
		wantKey bool
	}
	var stack []frame
	pointer := func() string {
		var b strings.Builder
		for _, f := range stack {
			b.WriteByte('/')
			if f.array {
				b.WriteString(strconv.Itoa(f.index))
			} else {
				b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(f.key))
			}
		}
		if b.Len() == 0 {
			return "/"
		}
		return b.String()
	}
	// value marks that a value was read in the innermost container.
	value := func() {
		if n := len(stack); n > 0 {
			if stack[n-1].array {
				stack[n-1].index++
			} else {
				stack[n-1].wantKey = true
			}
		}
	}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return errorf(Malformed, "data is not valid JSON: %v", err)
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				if len(stack) >= maxDepth {
					return errorf(Malformed,
						"data nests objects and arrays more than %d levels deep (at %s); flatten it", maxDepth, pointer())
				}
				stack = append(stack, frame{array: t == '[', wantKey: t == '{'})
			default:
				stack = stack[:len(stack)-1]
				value()
			}
		case string:
			if n := len(stack); n > 0 && !stack[n-1].array && stack[n-1].wantKey {
				stack[n-1].key, stack[n-1].wantKey = t, false
				continue
			}
			value()
		case json.Number:
			f, err := strconv.ParseFloat(string(t), 64)
			if err != nil || math.IsInf(f, 0) {
				return errorf(Malformed,
					"data holds the number %s at %s, outside the range of a 64-bit float (about ±1.8e308)", truncateText(string(t), 40), pointer())
			}
			value()
		default:
			value()
		}
	}
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("%s…", s[:n])
}
