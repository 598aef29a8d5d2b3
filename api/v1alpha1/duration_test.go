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
	} {
		days, rest, err := tc.in.Calendar()
		if (err != nil) != tc.err || days != tc.days || rest != tc.rest {
			t.Errorf("%q: got (%d, %s, %v), want (%d, %s, error %v)", tc.in, days, rest, err, tc.days, tc.rest, tc.err)
		}
	}
}
