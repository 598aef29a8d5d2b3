package v1alpha1

import (
	"testing"
	"time"
)

func TestSignedDurationCalendar(t *testing.T) {
	for _, tc := range []struct {
		in   SignedDuration
		days int
		rest time.Duration
		err  bool
	}{
		{"", 0, 0, false},
		{"-14d", -14, 0, false},
		{"1w2d3h", 9, 3 * time.Hour, false},
		{"1.5d", 1, 12 * time.Hour, false},
		{"-72h", 0, -72 * time.Hour, false},
		{"-1d30m", -1, -30 * time.Minute, false},
		{"d", 0, 0, true},
		{"3x", 0, 0, true},
		{"-36500d", -36500, 0, false},
		{"99999999d", 0, 0, true},
		{"-36500d1h", 0, 0, true},
		{"5300w", 0, 0, true},
		{"2562047h", 0, 0, true},
	} {
		days, rest, err := tc.in.Calendar()
		if (err != nil) != tc.err || days != tc.days || rest != tc.rest {
			t.Errorf("%q: got (%d, %s, %v), want (%d, %s, error %v)", tc.in, days, rest, err, tc.days, tc.rest, tc.err)
		}
	}
}

func TestDurationParseBounded(t *testing.T) {
	for _, tc := range []struct {
		in   Duration
		want time.Duration
		err  bool
	}{
		{"15m", 15 * time.Minute, false},
		{"2w1d", 15 * 24 * time.Hour, false},
		{"36500d", 36500 * 24 * time.Hour, false},
		// Each of these used to wrap around to a negative duration, so a
		// wait of "99999999999d" did not wait at all.
		{"99999999999d", 0, true},
		{"36501d", 0, true},
		{"2562047h2562047h", 0, true},
		{"876001h", 0, true},
		{"36000d36000d", 0, true},
	} {
		got, err := tc.in.Parse()
		if (err != nil) != tc.err || (!tc.err && got != tc.want) {
			t.Errorf("%q: got (%s, %v), want (%s, error %v)", tc.in, got, err, tc.want, tc.err)
		}
		if err != nil && got != 0 {
			t.Errorf("%q: an error with a value %s", tc.in, got)
		}
	}
	if _, err := SignedDuration("-99999999999d").Parse(); err == nil {
		t.Error(`"-99999999999d": no error`)
	}
}
