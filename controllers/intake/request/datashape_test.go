package request

import (
	"strings"
	"testing"

	"github.com/crmflow/crmflow/runner/cloudevents"
)

func nested(depth int) string {
	return strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
}

// TestDataShape: depth beyond cloudevents.MaxDataDepth and numbers beyond float64 are
// refused with 400 naming the place, in binary and structured mode; the
// limits themselves are accepted.
func TestDataShape(t *testing.T) {
	bin := func(data string) (string, string) { return "binary", data }
	cases := []struct {
		name   string
		data   string
		status int
		msg    string
	}{
		{"64 levels", nested(cloudevents.MaxDataDepth), 0, ""},
		{"65 levels", nested(cloudevents.MaxDataDepth + 1), 400, "more than 64 levels deep (at /a/a/a"},
		{"9000 levels of arrays", strings.Repeat("[", 9000) + strings.Repeat("]", 9000), 400, "more than 64 levels deep (at /0/0/0"},
		{"1e400", `{"lead":{"score":1e400}}`, 400, "number 1e400 at /lead/score"},
		{"-1e400 in an array", `{"xs":[1,2,-1e400]}`, 400, "number -1e400 at /xs/2"},
		{"1e308", `{"x":1e308}`, 0, ""},
		{"tiny", `{"x":1e-400}`, 0, ""},
		{"keys with slashes", `{"a/b":{"c~":1e999}}`, 400, "at /a~1b/c~0"},
	}
	for _, c := range cases {
		for _, mode := range []string{"binary", "structured"} {
			t.Run(c.name+" "+mode, func(t *testing.T) {
				_, data := bin(c.data)
				h := header("Ce-Specversion", "1.0", "Ce-Id", "1", "Ce-Source", "s", "Ce-Type", "t", "Content-Type", "application/json")
				body := data
				if mode == "structured" {
					h = header("Content-Type", cloudevents.StructuredJSON)
					body = `{"specversion":"1.0","id":"1","source":"s","type":"t","datacontenttype":"application/json","data":` + data + `}`
				}
				_, err := Decode(h, []byte(body), cloudevents.Limits{MaxDataBytes: 1 << 20})
				if c.status == 0 {
					if err != nil {
						t.Fatalf("refused: %v", err)
					}
					return
				}
				if err == nil || StatusOf(err) != c.status || !strings.Contains(err.Error(), c.msg) {
					t.Fatalf("got %v (%d), want %d containing %q", err, StatusOf(err), c.status, c.msg)
				}
			})
		}
	}
}
