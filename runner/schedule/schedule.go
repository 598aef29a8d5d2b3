// Package schedule holds crmflow's pure cron arithmetic for schedule
// triggers: parsing an expression in a time zone, the next tick after a time,
// and which missed ticks a controller should still act on after downtime,
// with the semantics of a Kubernetes CronJob's startingDeadlineSeconds.
//
// It knows nothing of the API server; the workflow.Reconciler feeds it times
// read from status and an injected clock.
package schedule

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// parser reads five-field expressions and descriptors (@daily, @weekly, …),
// exactly what a Kubernetes CronJob accepts.
var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Schedule is a parsed cron expression bound to a time zone.
type Schedule struct {
	spec *cron.SpecSchedule
	expr string
}

// Parse reads a five-field cron expression (or a descriptor such as "@daily")
// in the IANA time zone timeZone ("" means UTC). The time zone belongs in its
// own field, so an expression with a TZ= or CRON_TZ= prefix is refused, and so
// is "@every", which has no calendar ticks to name runs after.
func Parse(expr, timeZone string) (*Schedule, error) {
	trimmed := strings.TrimSpace(expr)
	if trimmed == "" {
		return nil, fmt.Errorf("cron expression is empty")
	}
	if strings.HasPrefix(trimmed, "TZ=") || strings.HasPrefix(trimmed, "CRON_TZ=") {
		return nil, fmt.Errorf("cron expression %q: set the time zone in timeZone, not in the expression", expr)
	}
	if strings.HasPrefix(trimmed, "@every") {
		return nil, fmt.Errorf("cron expression %q: @every is not supported; use a five-field expression", expr)
	}
	loc, err := LoadLocation(timeZone)
	if err != nil {
		return nil, err
	}
	parsed, err := parser.Parse(trimmed)
	if err != nil {
		return nil, fmt.Errorf("cron expression %q: %w", expr, err)
	}
	spec, ok := parsed.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("cron expression %q: unsupported schedule type %T", expr, parsed)
	}
	if !firesEver(spec) {
		return nil, fmt.Errorf("cron expression %q never fires: no month it names has that day of the month", expr)
	}
	spec.Location = loc
	return &Schedule{spec: spec, expr: trimmed}, nil
}

// firesEver reports whether spec names a day that exists ("0 0 30 2 *",
// February 30th, does not), whatever the time zone. Probed in UTC from
// 2000-01-01: the library looks five years ahead, which holds every
// month and day, 2000-02-29 included.
func firesEver(spec *cron.SpecSchedule) bool {
	probe := *spec
	probe.Location = time.UTC
	return !probe.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero()
}

// LoadLocation resolves an IANA time-zone name; "" is the API's default, UTC.
func LoadLocation(timeZone string) (*time.Location, error) {
	loc, err := time.LoadLocation(v1alpha1.TimeZoneOrDefault(timeZone))
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", timeZone, err)
	}
	return loc, nil
}

// String returns the expression as parsed.
func (s *Schedule) String() string { return s.expr }

// Next returns the first tick strictly after t (in UTC), and false when
// none lies within five years (Parse refuses expressions that never fire,
// such as "0 0 30 2 *").
//
// Daylight-saving time, in the schedule's zone:
//   - When clocks go back (America/New_York, 2025-11-02, 01:00–01:59 twice),
//     a wall-clock time that occurs twice fires once, at its first
//     occurrence, unless the hour field is "*": an hourly schedule fires in
//     both hours, since they are an hour apart.
//   - When clocks go forward (2025-03-09, 02:00–02:59 does not exist), a
//     tick in the missing hour does not fire that day: "30 2 * * *" skips
//     2025-03-09, as a Kubernetes CronJob does.
func (s *Schedule) Next(t time.Time) (time.Time, bool) {
	// A repeated hour holds at most 60 minute ticks to pass over.
	for range 64 {
		n := s.spec.Next(t)
		if n.IsZero() {
			return time.Time{}, false
		}
		if s.everyHour() || !repeatedWallClock(n.In(s.spec.Location)) {
			return n.UTC(), true
		}
		t = n
	}
	return time.Time{}, false
}

// everyHour reports whether the hour field is "*" (or lists every hour).
func (s *Schedule) everyHour() bool {
	const all = 1<<24 - 1
	return s.spec.Hour&all == all
}

// repeatedWallClock reports whether n's wall-clock time already occurred
// earlier, before clocks went back.
func repeatedWallClock(n time.Time) bool {
	_, now := n.Zone()
	_, before := n.Add(-3 * time.Hour).Zone()
	if before <= now {
		return false
	}
	earlier := n.Add(-time.Duration(before-now) * time.Second)
	_, off := earlier.Zone()
	return off == before && earlier.Format("2006-01-02T15:04:05") == n.Format("2006-01-02T15:04:05")
}

// Latest returns the latest tick in (after, now], and false when there is none.
// It searches backwards from now in growing windows, so a schedule that
// fired a million times while the manager was down costs a handful of steps.
func (s *Schedule) Latest(after, now time.Time) (time.Time, bool) {
	if !now.After(after) {
		return time.Time{}, false
	}
	for window := time.Minute; ; window *= 4 {
		start := now.Add(-window)
		reachedAfter := !start.After(after)
		if reachedAfter {
			start = after
		}
		t, ok := s.Next(start)
		if ok && !t.After(now) {
			// The previous, smaller window held no tick, so this loop walks at
			// most the ticks of the oldest three quarters of this window.
			for {
				n, ok := s.Next(t)
				if !ok || n.After(now) {
					return t, true
				}
				t = n
			}
		}
		if reachedAfter {
			return time.Time{}, false
		}
	}
}

// Count returns how many ticks fall in (after, before), stopping at limit.
func (s *Schedule) Count(after, before time.Time, limit int) int {
	n := 0
	for t := after; n < limit; n++ {
		next, ok := s.Next(t)
		if !ok || !next.Before(before) {
			return n
		}
		t = next
	}
	return n
}

// MaxCountedMisses bounds how many passed-over ticks Plan counts one by one.
const MaxCountedMisses = 1000

// Plan is what a controller should do about a schedule at a moment.
type Plan struct {
	// Run is the tick to start a run for now; zero when none is due.
	Run time.Time
	// Acted is the latest tick that was acted on (run or skipped); the new
	// lastScheduleTime. Zero when no tick passed since the last one.
	Acted time.Time
	// Missed counts the ticks passed over without a run: every tick before
	// the latest one, and the latest one too when it is past the deadline.
	// It stops counting at MaxCountedMisses.
	Missed int
	// Next is the first tick after now; zero when the schedule never fires again.
	Next time.Time
}

// PlanAt decides, at now, which tick in (last, now] to run, as a Kubernetes
// CronJob does: only the latest passed tick may start a run, and only while
// now is within startingDeadlineSeconds of it (nil: no deadline). last is the
// previous lastScheduleTime, or the workflow's creation time for a new one.
func (s *Schedule) PlanAt(last, now time.Time, startingDeadlineSeconds *int64) Plan {
	var p Plan
	if next, ok := s.Next(now); ok {
		p.Next = next
	}
	latest, ok := s.Latest(last, now)
	if !ok {
		return p
	}
	p.Acted = latest
	p.Missed = s.Count(last, latest, MaxCountedMisses)
	if WithinDeadline(latest, now, startingDeadlineSeconds) {
		p.Run = latest
	} else if p.Missed < MaxCountedMisses {
		p.Missed++
	}
	return p
}

// WithinDeadline reports whether a run for tick may still start at now:
// always when startingDeadlineSeconds is nil, otherwise when now is at most
// that many seconds after the tick.
func WithinDeadline(tick, now time.Time, startingDeadlineSeconds *int64) bool {
	if startingDeadlineSeconds == nil {
		return true
	}
	return !now.After(tick.Add(time.Duration(*startingDeadlineSeconds) * time.Second))
}
