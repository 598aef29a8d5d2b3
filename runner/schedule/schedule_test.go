package schedule

import (
	"reflect"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return v
}

func ptr[T any](v T) *T { return &v }

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, expr, tz, want string
	}{
		{"empty", "  ", "", "cron expression is empty"},
		{"four fields", "0 9 * *", "", `cron expression "0 9 * *"`},
		{"bad minute", "61 9 * * *", "", "61"},
		{"tz prefix", "CRON_TZ=UTC 0 9 * * *", "", "set the time zone in timeZone"},
		{"every", "@every 5m", "", "@every is not supported"},
		{"unknown zone", "0 9 * * *", "Mars/Olympus", `time zone "Mars/Olympus"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewWithT(t)
			_, err := Parse(c.expr, c.tz)
			g.Expect(err).To(MatchError(ContainSubstring(c.want)))
		})
	}
}

func TestNext(t *testing.T) {
	cases := []struct {
		name, expr, tz, after, want string
	}{
		{"utc default", "0 9 * * *", "", "2026-03-02T08:00:00Z", "2026-03-02T09:00:00Z"},
		{"strictly after", "0 9 * * *", "UTC", "2026-03-02T09:00:00Z", "2026-03-03T09:00:00Z"},
		{"new york winter", "0 9 * * Mon", "America/New_York", "2026-01-01T00:00:00Z", "2026-01-05T14:00:00Z"},
		{"new york summer", "0 9 * * Mon", "America/New_York", "2026-07-01T00:00:00Z", "2026-07-06T13:00:00Z"},
		{"descriptor in zone", "@daily", "Europe/Berlin", "2026-03-02T12:00:00Z", "2026-03-02T23:00:00Z"},
		{"weekday range", "30 8 * * Mon-Fri", "UTC", "2026-03-06T09:00:00Z", "2026-03-09T08:30:00Z"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewWithT(t)
			s, err := Parse(c.expr, c.tz)
			g.Expect(err).NotTo(HaveOccurred())
			next, ok := s.Next(mustTime(t, c.after))
			g.Expect(ok).To(BeTrue())
			g.Expect(next).To(Equal(mustTime(t, c.want)))
		})
	}
}

// TestParseNeverFires: an expression naming only days that do not exist
// parses in the cron library but never fires; it is refused, not admitted
// with no nextScheduleTime. A leap day is a day.
func TestParseNeverFires(t *testing.T) {
	g := NewWithT(t)
	for _, expr := range []string{"0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 9 30,31 Feb *"} {
		_, err := Parse(expr, "America/New_York")
		g.Expect(err).To(MatchError(ContainSubstring("never fires")), expr)
	}
	s, err := Parse("0 0 29 2 *", "Europe/Berlin")
	g.Expect(err).NotTo(HaveOccurred())
	next, ok := s.Next(mustTime(t, "2026-01-01T00:00:00Z"))
	g.Expect(ok).To(BeTrue())
	g.Expect(next).To(Equal(mustTime(t, "2028-02-28T23:00:00Z")))
	_, err = Parse("0 0 30 2 Mon", "")
	g.Expect(err).NotTo(HaveOccurred(), "day of month or day of week: every Monday in February")
}

func TestLatest(t *testing.T) {
	cases := []struct {
		name, expr, after, now string
		want                   string // "" means none
	}{
		{"none yet", "0 9 * * *", "2026-03-02T09:00:00Z", "2026-03-02T10:00:00Z", ""},
		{"exactly now", "0 9 * * *", "2026-03-01T09:00:00Z", "2026-03-02T09:00:00Z", "2026-03-02T09:00:00Z"},
		{"after is exclusive", "0 9 * * *", "2026-03-02T09:00:00Z", "2026-03-02T09:00:00Z", ""},
		{"many minutes missed", "* * * * *", "2020-01-01T00:00:00Z", "2026-03-02T10:07:30Z", "2026-03-02T10:07:00Z"},
		{"yearly long ago", "0 0 1 1 *", "2020-06-01T00:00:00Z", "2026-03-02T10:00:00Z", "2026-01-01T00:00:00Z"},
		{"window clipped by after", "0 0 1 1 *", "2026-02-01T00:00:00Z", "2026-03-02T10:00:00Z", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewWithT(t)
			s, err := Parse(c.expr, "")
			g.Expect(err).NotTo(HaveOccurred())
			got, ok := s.Latest(mustTime(t, c.after), mustTime(t, c.now))
			if c.want == "" {
				g.Expect(ok).To(BeFalse())
				return
			}
			g.Expect(ok).To(BeTrue())
			g.Expect(got).To(Equal(mustTime(t, c.want)))
		})
	}
}

func TestPlanAt(t *testing.T) {
	cases := []struct {
		name      string
		expr      string
		last, now string
		deadline  *int64
		wantRun   string
		wantActed string
		wantMiss  int
		wantNext  string
	}{
		{
			name: "nothing due", expr: "0 * * * *",
			last: "2026-03-02T10:00:00Z", now: "2026-03-02T10:30:00Z",
			wantNext: "2026-03-02T11:00:00Z",
		},
		{
			name: "on time", expr: "0 * * * *",
			last: "2026-03-02T10:00:00Z", now: "2026-03-02T11:00:02Z", deadline: ptr[int64](60),
			wantRun: "2026-03-02T11:00:00Z", wantActed: "2026-03-02T11:00:00Z", wantNext: "2026-03-02T12:00:00Z",
		},
		{
			name: "down three hours, no deadline: latest runs, two missed", expr: "0 * * * *",
			last: "2026-03-02T10:00:00Z", now: "2026-03-02T13:20:00Z",
			wantRun: "2026-03-02T13:00:00Z", wantActed: "2026-03-02T13:00:00Z", wantMiss: 2, wantNext: "2026-03-02T14:00:00Z",
		},
		{
			name: "latest within deadline", expr: "0 * * * *",
			last: "2026-03-02T10:00:00Z", now: "2026-03-02T13:20:00Z", deadline: ptr[int64](3600),
			wantRun: "2026-03-02T13:00:00Z", wantActed: "2026-03-02T13:00:00Z", wantMiss: 2, wantNext: "2026-03-02T14:00:00Z",
		},
		{
			name: "latest past deadline: all missed", expr: "0 * * * *",
			last: "2026-03-02T10:00:00Z", now: "2026-03-02T13:20:00Z", deadline: ptr[int64](600),
			wantActed: "2026-03-02T13:00:00Z", wantMiss: 3, wantNext: "2026-03-02T14:00:00Z",
		},
		{
			name: "deadline boundary is inclusive", expr: "0 * * * *",
			last: "2026-03-02T12:00:00Z", now: "2026-03-02T13:10:00Z", deadline: ptr[int64](600),
			wantRun: "2026-03-02T13:00:00Z", wantActed: "2026-03-02T13:00:00Z", wantNext: "2026-03-02T14:00:00Z",
		},
		{
			name: "years of minutes missed: counting stops at the cap", expr: "* * * * *",
			last: "2020-01-01T00:00:00Z", now: "2026-03-02T10:07:30Z", deadline: ptr[int64](0),
			wantActed: "2026-03-02T10:07:00Z", wantMiss: MaxCountedMisses, wantNext: "2026-03-02T10:08:00Z",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewWithT(t)
			s, err := Parse(c.expr, "")
			g.Expect(err).NotTo(HaveOccurred())
			p := s.PlanAt(mustTime(t, c.last), mustTime(t, c.now), c.deadline)
			want := Plan{Missed: c.wantMiss}
			if c.wantRun != "" {
				want.Run = mustTime(t, c.wantRun)
			}
			if c.wantActed != "" {
				want.Acted = mustTime(t, c.wantActed)
			}
			if c.wantNext != "" {
				want.Next = mustTime(t, c.wantNext)
			}
			g.Expect(p).To(Equal(want))
		})
	}
}

func TestPlanAtTimeZone(t *testing.T) {
	g := NewWithT(t)
	// 09:00 on Mondays in New York is 14:00 UTC in winter.
	s, err := Parse("0 9 * * Mon", "America/New_York")
	g.Expect(err).NotTo(HaveOccurred())
	p := s.PlanAt(mustTime(t, "2026-01-04T00:00:00Z"), mustTime(t, "2026-01-05T14:30:00Z"), ptr[int64](3600))
	g.Expect(p.Run).To(Equal(mustTime(t, "2026-01-05T14:00:00Z")))
	g.Expect(p.Next).To(Equal(mustTime(t, "2026-01-12T14:00:00Z")))
}

// TestDaylightSaving (issue 10 item 11): in America/New_York a daily tick
// in the repeated hour of 2025-11-02 fires once, an hourly schedule keeps
// both hours, and a tick in the missing hour of 2025-03-09 is skipped that
// day (documented).
func TestDaylightSaving(t *testing.T) {
	ticks := func(expr string, from string, n int) []string {
		s, err := Parse(expr, "America/New_York")
		if err != nil {
			t.Fatal(err)
		}
		at, _ := time.Parse(time.RFC3339, from)
		var out []string
		for range n {
			next, ok := s.Next(at)
			if !ok {
				t.Fatalf("%s: no tick after %s", expr, at)
			}
			out = append(out, next.Format(time.RFC3339))
			at = next
		}
		return out
	}
	for _, tc := range []struct {
		expr, from string
		want       []string
	}{
		{"30 1 * * *", "2025-11-01T12:00:00Z", []string{"2025-11-02T05:30:00Z", "2025-11-03T06:30:00Z"}},
		{"*/30 1 * * *", "2025-11-02T04:00:00Z", []string{"2025-11-02T05:00:00Z", "2025-11-02T05:30:00Z", "2025-11-03T06:00:00Z"}},
		{"0 1,2 * * *", "2025-11-02T04:00:00Z", []string{"2025-11-02T05:00:00Z", "2025-11-02T07:00:00Z", "2025-11-03T06:00:00Z"}},
		{"0 * * * *", "2025-11-02T04:30:00Z", []string{"2025-11-02T05:00:00Z", "2025-11-02T06:00:00Z", "2025-11-02T07:00:00Z"}},
		{"30 2 * * *", "2025-03-08T12:00:00Z", []string{"2025-03-10T06:30:00Z"}},
		{"30 1 * * *", "2025-03-08T12:00:00Z", []string{"2025-03-09T06:30:00Z", "2025-03-10T05:30:00Z"}},
	} {
		if got := ticks(tc.expr, tc.from, len(tc.want)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s after %s: got %v, want %v", tc.expr, tc.from, got, tc.want)
		}
	}
	// Planning across the repeated hour counts no miss and runs once.
	s, _ := Parse("30 1 * * *", "America/New_York")
	last, _ := time.Parse(time.RFC3339, "2025-11-02T05:30:00Z")
	now, _ := time.Parse(time.RFC3339, "2025-11-02T06:45:00Z")
	if p := s.PlanAt(last, now, nil); !p.Run.IsZero() || p.Missed != 0 {
		t.Errorf("the repeated 01:30 must not run again: %+v", p)
	}
}
