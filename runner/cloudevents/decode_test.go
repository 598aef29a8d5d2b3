package cloudevents

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

// structuredHeader is the Content-Type of a structured-mode event.
func structuredHeader() http.Header {
	return http.Header{"Content-Type": []string{StructuredJSON}}
}

func binaryHeader(id, subject string) http.Header {
	return http.Header{
		"Content-Type":   []string{"application/json"},
		"Ce-Specversion": []string{"1.0"},
		"Ce-Id":          []string{id},
		"Ce-Source":      []string{"test/decode"},
		"Ce-Type":        []string{"contact.created"},
		"Ce-Subject":     []string{subject},
	}
}

func TestDecodeRefusesAmbiguousStructuredEvents(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{
			// The SDK's parser stopped at the empty name and dropped data,
			// subject and crmflowhops, acknowledging an event without them.
			name: "an empty attribute name",
			body: `{"specversion":"1.0","id":"e1","source":"s","type":"t","":"","crmflowhops":"8","data":{"a":1}}`,
			want: `attribute name ""`,
		},
		{
			name: "an upper-case attribute name",
			body: `{"specversion":"1.0","id":"e1","source":"s","type":"t","DATA":[1]}`,
			want: `attribute name "DATA"`,
		},
		{
			name: "an attribute given twice",
			body: `{"specversion":"1.0","id":"e1","source":"s","type":"t","subject":"a","subject":"b"}`,
			want: `attribute "subject" appears twice`,
		},
		{
			name: "a non-UTF-8 id",
			body: "{\"specversion\":\"1.0\",\"id\":\"e1\xff\",\"source\":\"s\",\"type\":\"t\"}",
			want: "body is not valid UTF-8",
		},
		{
			name: "a control character in the subject",
			body: `{"specversion":"1.0","id":"e1","source":"s","type":"t","subject":"c\u0000-1"}`,
			want: `attribute "subject" holds the control character U+0000`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(structuredHeader(), []byte(tc.body), Limits{})
			var de *Error
			if !errors.As(err, &de) || de.Reason != Malformed {
				t.Fatalf("want a Malformed error, got %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func TestDecodeChecksAttributeText(t *testing.T) {
	// Two ids that differ only in an invalid byte used to be stored as the
	// same id (U+FFFD), in two runs.
	for _, id := range []string{"e1\xff", "e1\xfe"} {
		if _, err := Decode(binaryHeader(id, "c-1"), []byte(`{}`), Limits{}); err == nil ||
			!strings.Contains(err.Error(), `attribute "id" is not valid UTF-8`) {
			t.Errorf("id %q: got %v", id, err)
		}
	}
	if _, err := Decode(binaryHeader("e2", "c\t1"), []byte(`{}`), Limits{}); err == nil {
		t.Error("a tab in the subject was accepted")
	}
	// Limits count characters, as the run's schema does: 600 é are 1200 bytes.
	evs, err := Decode(binaryHeader("e3", strings.Repeat("é", 600)), []byte(`{}`), Limits{})
	if err != nil || len(evs) != 1 {
		t.Fatalf("600 characters refused: %v", err)
	}
	_, err = Decode(binaryHeader("e4", strings.Repeat("é", 1025)), []byte(`{}`), Limits{})
	if err == nil || !strings.Contains(err.Error(), `"subject" is 1025 characters; the limit is 1024`) {
		t.Errorf("1025 characters: got %v", err)
	}
}

func TestDecodeKeepsLongExtensionErrorsShort(t *testing.T) {
	body := `{"specversion":"1.0","id":"e1","source":"s","type":"t","myext":[` + strings.Repeat(`{},`, 20000) + `{}]}`
	_, err := Decode(structuredHeader(), []byte(body), Limits{})
	if err == nil {
		t.Fatal("a list extension was accepted")
	}
	if len(err.Error()) > 600 {
		t.Fatalf("the error is %d bytes long", len(err.Error()))
	}
}

func TestDecodeEmptySpecVersionHeaderIsBinaryMode(t *testing.T) {
	h := binaryHeader("e1", "c-1")
	h["Ce-Specversion"] = []string{""}
	_, err := Decode(h, []byte(`{}`), Limits{})
	var de *Error
	if !errors.As(err, &de) || de.Reason != Malformed || !strings.Contains(err.Error(), `unsupported specversion ""`) {
		t.Fatalf("want 400 naming the empty specversion, got %v", err)
	}
}
