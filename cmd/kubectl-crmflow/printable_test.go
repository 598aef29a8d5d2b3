package main

import "testing"

func TestPrintableEscapesControlCharacters(t *testing.T) {
	for in, want := range map[string]string{
		"c-42":                           "c-42",
		"Zoë 😀 日本":                       "Zoë 😀 日本",
		"c-esc\x1b[31mRED\x1b]0;pwned\a": `c-esc\x1b[31mRED\x1b]0;pwned\a`,
		"two\nlines\r\tand\x7f":          `two\nlines\r\tand\x7f`,
		"c1\u009b31m":                    `c1\u009b31m`,
		"bidi\u202eevil":                 `bidi\u202eevil`,
		"bad\xffutf8":                    `bad\xffutf8`,
		"back\\slash":                    `back\slash`,
	} {
		if got := printable(in); got != want {
			t.Errorf("printable(%q) = %q, want %q", in, got, want)
		}
	}
}
