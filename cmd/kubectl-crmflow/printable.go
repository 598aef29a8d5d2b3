package main

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// printable returns s with every character that could drive a terminal (C0
// and C1 control characters, DEL, bidirectional formatting characters) and
// every byte that is not UTF-8 replaced by its Go escape, as strconv.Quote
// writes it (\x1b, \a, \n, \u009b, \u202e, \xff); other text, backslashes
// included, is left as it is. Every printer of text that comes from events,
// runs or the run history goes through it (most through oneLine and orDash),
// so event data cannot recolour the terminal, set its title or forge lines.
func printable(s string) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, unsafeRune) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || unsafeRune(r) {
			q := strconv.Quote(s[i : i+size])
			b.WriteString(q[1 : len(q)-1])
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// unsafeRune says whether r is a control or bidirectional formatting character.
func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
}
