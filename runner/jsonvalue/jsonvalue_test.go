package jsonvalue

import (
	"encoding/json"
	"math"
	"testing"

	. "github.com/onsi/gomega"
)

func TestLargeIntegersKeepTheirValue(t *testing.T) {
	cases := []struct {
		number string
		want   any
	}{
		// Beyond 2^53: exact, as int64 (uint64 above MaxInt64).
		{"9007199254740993", int64(9007199254740993)},
		{"9007199254740994", int64(9007199254740994)}, // a float64 could hold it, but one type for all of them
		{"-9007199254740993", int64(-9007199254740993)},
		{"123456789012345678", int64(123456789012345678)},
		{"9223372036854775807", int64(math.MaxInt64)},
		{"-9223372036854775808", int64(math.MinInt64)},
		{"9223372036854775808", uint64(1 << 63)},
		{"18446744073709551615", uint64(math.MaxUint64)},
		// Everything else is the float64 of encoding/json.
		{"7", 7.0},
		{"-0", math.Copysign(0, -1)},
		{"0.25", 0.25},
		{"9007199254740992", 9007199254740992.0},
		{"-9007199254740992", -9007199254740992.0},
		{"1000000000000000", 1e15},
		{"1e18", 1e18},
		{"9007199254740993.0", 9007199254740992.0},         // a fraction: not an integer literal
		{"18446744073709551616", 18446744073709551616.0},   // beyond uint64
		{"-9223372036854775809", -9223372036854775809.0},   // beyond int64
		{"0.12345678901234567890", 0.12345678901234567890}, // many digits, still a float
		{"123456789012345678901234567890", 1.2345678901234568e29},
	}
	for _, tc := range cases {
		t.Run(tc.number, func(t *testing.T) {
			g := NewWithT(t)
			v, err := Unmarshal([]byte(`{"a":[{"n":` + tc.number + `}]}`))
			g.Expect(err).NotTo(HaveOccurred())
			got := v.(map[string]any)["a"].([]any)[0].(map[string]any)["n"]
			g.Expect(got).To(BeAssignableToTypeOf(tc.want))
			g.Expect(got).To(Equal(tc.want))
			if f, ok := tc.want.(float64); ok {
				g.Expect(math.Signbit(got.(float64))).To(Equal(math.Signbit(f)))
			}
		})
	}
}

func TestSameAsEncodingJSONWithoutLargeIntegers(t *testing.T) {
	docs := []string{
		`{"contact":{"id":"c-42","score":7,"tags":["VIP"],"nested":{"k":1.5,"n":null,"b":true}}}`,
		`{"phone":"+4915112345678901","n":-0,"x":[1,2.5,1e3,-7]}`, // a long digit run in a string
		`[1,"2",3.5]`,
		`"text"`,
		`12`,
		`null`,
	}
	for _, doc := range docs {
		t.Run(doc, func(t *testing.T) {
			g := NewWithT(t)
			var want any
			g.Expect(json.Unmarshal([]byte(doc), &want)).To(Succeed())
			got, err := Unmarshal([]byte(doc))
			g.Expect(err).NotTo(HaveOccurred())
			if want == nil {
				g.Expect(got).To(BeNil())
				return
			}
			g.Expect(got).To(Equal(want))
		})
	}
}

func TestErrorsAreThoseOfEncodingJSON(t *testing.T) {
	docs := []string{
		`{"id":9007199254740993`,
		`{"id":9007199254740993} x`,
		`{"id":9007199254740993,"f":1e400}`,
		`{"f":1e400}`,
		``,
		`{"id":12345678901234567,}`,
	}
	for _, doc := range docs {
		t.Run(doc, func(t *testing.T) {
			g := NewWithT(t)
			var v any
			want := json.Unmarshal([]byte(doc), &v)
			g.Expect(want).To(HaveOccurred())
			_, err := Unmarshal([]byte(doc))
			g.Expect(err).To(MatchError(want.Error()))
		})
	}
}

func TestUnmarshalObject(t *testing.T) {
	g := NewWithT(t)
	m, err := UnmarshalObject([]byte(`{"id":9007199254740993}`))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(m).To(Equal(map[string]any{"id": int64(9007199254740993)}))

	m, err = UnmarshalObject([]byte(`null`))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(m).To(BeNil())

	for _, doc := range []string{`[9007199254740993]`, `"x"`, `1`, `true`} {
		var want map[string]any
		wantErr := json.Unmarshal([]byte(doc), &want)
		_, err = UnmarshalObject([]byte(doc))
		g.Expect(err).To(MatchError(wantErr.Error()), doc)
	}
}
