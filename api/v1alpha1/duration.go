/*
Copyright 2026 The crmflow Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package v1alpha1

import (
	"fmt"
	"strings"
	"time"
)

// MaxDurationDays bounds every duration and offset: 100 years is longer than
// any CRM wait, delay or retention, and far from where a time.Duration
// (about 292 years) would wrap around to a negative value.
const MaxDurationDays = 36500

// MaxStepTimeout bounds steps[].timeout. An attempt runs on one of the run
// controller's workers, so a longer bound would let a few hanging servers
// stall every workflow of the cluster.
const MaxStepTimeout = 5 * time.Minute

// maxDuration is MaxDurationDays as a time.Duration.
const maxDuration = MaxDurationDays * 24 * time.Hour

// errTooLong says which duration passed the bound.
func errTooLong(s string) error {
	return fmt.Errorf("invalid duration %q: longer than the maximum of %dd (100 years)", s, MaxDurationDays)
}

// Parse turns a Duration into a time.Duration; "d" is 24h and "w" is 168h.
func (d Duration) Parse() (time.Duration, error) {
	return parseExtendedDuration(string(d))
}

// Parse turns a SignedDuration into a time.Duration.
func (d SignedDuration) Parse() (time.Duration, error) {
	s := string(d)
	if s == "" {
		return 0, nil
	}
	neg := strings.HasPrefix(s, "-")
	v, err := parseExtendedDuration(strings.TrimPrefix(s, "-"))
	if neg {
		v = -v
	}
	return v, err
}

// Calendar splits a SignedDuration into whole calendar days (its d and w
// units, a week being 7 days) and the rest as elapsed time: "-14d" is
// (-14, 0), "1w2d3h" is (9, 3h), "1.5d" is (1, 12h). Adding days with
// time.AddDate in a time zone keeps the wall-clock time across a DST change,
// where adding 24h per day would not.
func (d SignedDuration) Calendar() (days int, rest time.Duration, err error) {
	s := string(d)
	if s == "" {
		return 0, 0, nil
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var dayCount float64
	var other strings.Builder
	for rest := s; rest != ""; {
		i := 0
		for i < len(rest) && (rest[i] == '.' || (rest[i] >= '0' && rest[i] <= '9')) {
			i++
		}
		j := i
		for j < len(rest) && rest[j] != '.' && (rest[j] < '0' || rest[j] > '9') {
			j++
		}
		if i == 0 || j == i {
			return 0, 0, fmt.Errorf("invalid duration %q", string(d))
		}
		num, unit := rest[:i], rest[i:j]
		rest = rest[j:]
		if unit == "d" || unit == "w" {
			var f float64
			if _, err := fmt.Sscanf(num, "%g", &f); err != nil {
				return 0, 0, fmt.Errorf("invalid duration %q: %w", string(d), err)
			}
			if unit == "w" {
				f *= 7
			}
			dayCount += f
			if dayCount > MaxDurationDays {
				return 0, 0, errTooLong(string(d))
			}
			continue
		}
		other.WriteString(num + unit)
	}
	whole := int(dayCount)
	rest = time.Duration((dayCount - float64(whole)) * 24 * float64(time.Hour))
	if other.Len() > 0 {
		r, err := time.ParseDuration(other.String())
		if err != nil {
			return 0, 0, fmt.Errorf("invalid duration %q: %w", string(d), err)
		}
		if r > maxDuration {
			return 0, 0, errTooLong(string(d))
		}
		rest += r
	}
	if time.Duration(whole)*24*time.Hour+rest > maxDuration {
		return 0, 0, errTooLong(string(d))
	}
	if neg {
		whole, rest = -whole, -rest
	}
	return whole, rest, nil
}

// parseExtendedDuration expands d and w units to hours and defers to time.ParseDuration.
func parseExtendedDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	var total time.Duration
	rest := s
	for rest != "" {
		i := 0
		for i < len(rest) && (rest[i] == '.' || (rest[i] >= '0' && rest[i] <= '9')) {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("invalid duration %q: expected a number", s)
		}
		j := i
		for j < len(rest) && rest[j] != '.' && (rest[j] < '0' || rest[j] > '9') {
			j++
		}
		num, unit := rest[:i], rest[i:j]
		rest = rest[j:]
		var part time.Duration
		var err error
		switch unit {
		case "d", "w":
			hours := 24.0
			if unit == "w" {
				hours = 168
			}
			var f float64
			if _, err = fmt.Sscanf(num, "%g", &f); err != nil {
				return 0, fmt.Errorf("invalid duration %q: %w", s, err)
			}
			if f*hours > float64(maxDuration/time.Hour) {
				return 0, errTooLong(s)
			}
			part = time.Duration(f * hours * float64(time.Hour))
		default:
			part, err = time.ParseDuration(num + unit)
			if err != nil {
				return 0, fmt.Errorf("invalid duration %q: %w", s, err)
			}
		}
		if part > maxDuration || total+part > maxDuration {
			return 0, errTooLong(s)
		}
		total += part
	}
	return total, nil
}
