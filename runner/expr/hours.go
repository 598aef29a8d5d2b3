package expr

import (
	"fmt"
	"strings"
	"sync"
	"time"
	// tzdata makes IANA zone names work in minimal containers without /usr/share/zoneinfo.
	_ "time/tzdata"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// Window is a weekly business-hours window in one time zone: open on Days
// from From (inclusive) to To (exclusive), local time.
type Window struct {
	Loc  *time.Location
	Days [7]bool // indexed by time.Weekday
	From time.Duration
	To   time.Duration
}

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// defaultDays are the API's default business days as strings.
func defaultDays() []string {
	var days []string
	for _, d := range v1alpha1.DefaultBusinessDays() {
		days = append(days, string(d))
	}
	return days
}

var zones sync.Map // zone name -> *time.Location

// LoadZone returns the IANA time zone name ("" means the API's default,
// UTC), cached.
func LoadZone(name string) (*time.Location, error) {
	name = v1alpha1.TimeZoneOrDefault(name)
	if l, ok := zones.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	zones.Store(name, l)
	return l, nil
}

// ParseClock parses "HH:MM" (24:00 allowed as the end of a day).
func ParseClock(s string) (time.Duration, error) {
	var h, m int
	if len(s) != 5 || s[2] != ':' {
		return 0, fmt.Errorf("time %q is not HH:MM", s)
	}
	if _, err := fmt.Sscanf(s, "%02d:%02d", &h, &m); err != nil || h < 0 || h > 24 || m < 0 || m > 59 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("time %q is not HH:MM", s)
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, nil
}

// ParseWindow validates and builds a Window. Empty days mean Monday to Friday.
func ParseWindow(zone string, days []string, from, to string) (Window, error) {
	var w Window
	loc, err := LoadZone(zone)
	if err != nil {
		return w, err
	}
	w.Loc = loc
	if len(days) == 0 {
		days = defaultDays()
	}
	for _, d := range days {
		wd, ok := weekdays[strings.ToLower(d)]
		if !ok {
			return w, fmt.Errorf("unknown day %q (want Mon, Tue, Wed, Thu, Fri, Sat or Sun)", d)
		}
		w.Days[wd] = true
	}
	if w.From, err = ParseClock(from); err != nil {
		return w, fmt.Errorf("from: %w", err)
	}
	if w.To, err = ParseClock(to); err != nil {
		return w, fmt.Errorf("to: %w", err)
	}
	if w.To <= w.From {
		return w, fmt.Errorf("to %s must be later than from %s", to, from)
	}
	return w, nil
}

// dayStart returns local midnight of t's day in the window's zone.
func (w Window) dayStart(t time.Time) time.Time {
	l := t.In(w.Loc)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, w.Loc)
}

// at returns the wall-clock instant off after local midnight of day; hours
// and minutes are set on the calendar (DST-safe), and 24:00 is next midnight.
func (w Window) at(day time.Time, off time.Duration) time.Time {
	h := int(off / time.Hour)
	m := int((off % time.Hour) / time.Minute)
	return time.Date(day.Year(), day.Month(), day.Day(), h, m, 0, 0, w.Loc)
}

// Contains reports whether t falls inside the window.
func (w Window) Contains(t time.Time) bool {
	day := w.dayStart(t)
	if !w.Days[day.Weekday()] {
		return false
	}
	return !t.Before(w.at(day, w.From)) && t.Before(w.at(day, w.To))
}

// Next returns t when the window is open at t, else the next opening time.
func (w Window) Next(t time.Time) time.Time {
	if w.Contains(t) {
		return t
	}
	day := w.dayStart(t)
	for i := 0; i < 8; i++ {
		d := day.AddDate(0, 0, i)
		if !w.Days[d.Weekday()] {
			continue
		}
		open := w.at(d, w.From)
		if !open.Before(t) {
			return open
		}
	}
	return t // no open day: unreachable for a validated window
}
