package v1alpha1

import (
	"testing"
	"time"
)

func TestRemoveAfterRoundsUpToTheSlot(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 9, 15, 20, 0, time.UTC)
	cases := []struct {
		at   time.Time
		want string
	}{
		{t0, "2026-11-30T09:15:20Z"},
		{t0.Add(time.Nanosecond), "2026-11-30T09:15:30Z"},
		{t0.Add(9 * time.Second), "2026-11-30T09:15:30Z"},
		{t0.Add(40 * time.Second), "2026-11-30T09:16:00Z"},
		{t0.In(time.FixedZone("CET", 3600)), "2026-11-30T09:15:20Z"},
	}
	for _, tc := range cases {
		if got := RemoveAfterValue(tc.at); got != tc.want {
			t.Errorf("RemoveAfterValue(%s) = %s, want %s", tc.at, got, tc.want)
		}
	}
}

func TestParseRemoveAfterReadsSecondsAndEarlierMinutes(t *testing.T) {
	for in, want := range map[string]time.Time{
		"2026-11-30T09:15:30Z": time.Date(2026, 11, 30, 9, 15, 30, 0, time.UTC),
		"2026-11-30T09:16Z":    time.Date(2026, 11, 30, 9, 16, 0, 0, time.UTC), // written by an earlier crmflow
	} {
		got, err := ParseRemoveAfter(in)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseRemoveAfter(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	if _, err := ParseRemoveAfter("soon"); err == nil {
		t.Error(`ParseRemoveAfter("soon") succeeded; want an error naming the value`)
	}
}
