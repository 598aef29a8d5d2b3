package main

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// writeVerbs are the verbs of apiserver_request_total that write.
var writeVerbs = map[string]bool{"POST": true, "PUT": true, "PATCH": true, "DELETE": true, "APPLY": true, "DELETECOLLECTION": true}

// requestCounts maps "VERB resource[/subresource]" to apiserver_request_total.
type requestCounts map[string]float64

// apiWrites reads the API server's own apiserver_request_total and returns
// the write requests by verb and resource; refused ones (4xx, 5xx) are
// counted apart, under "VERB resource (code)".
func (cp *controlPlane) apiWrites(ctx context.Context) (requestCounts, error) {
	body, err := cp.get(ctx, "/metrics")
	if err != nil {
		return nil, fmt.Errorf("read API server metrics: %w", err)
	}
	out := requestCounts{}
	for _, line := range strings.Split(body, "\n") {
		rest, ok := strings.CutPrefix(line, "apiserver_request_total{")
		if !ok {
			continue
		}
		end := strings.LastIndexByte(rest, '}')
		if end < 0 {
			continue
		}
		labels := parseLabels(rest[:end])
		if !writeVerbs[labels["verb"]] {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest[end+1:]), 64)
		if err != nil {
			continue
		}
		res := labels["resource"]
		if sub := labels["subresource"]; sub != "" {
			res += "/" + sub
		}
		key := labels["verb"] + " " + res
		if code := labels["code"]; len(code) == 3 && code[0] >= '4' {
			key += " (" + code + ")" // refused writes, counted apart
		}
		out[key] += v
	}
	return out, nil
}

// parseLabels parses `a="x",b="y"` (label values never hold `",` here).
func parseLabels(s string) map[string]string {
	m := map[string]string{}
	for len(s) > 0 {
		eq := strings.IndexByte(s, '=')
		if eq < 0 || eq+1 >= len(s) || s[eq+1] != '"' {
			break
		}
		name := s[:eq]
		rest := s[eq+2:]
		q := strings.IndexByte(rest, '"')
		if q < 0 {
			break
		}
		m[name] = rest[:q]
		s = strings.TrimPrefix(rest[q+1:], ",")
	}
	return m
}

// minus returns c − before, dropping zero entries.
func (c requestCounts) minus(before requestCounts) requestCounts {
	out := requestCounts{}
	for k, v := range c {
		if d := v - before[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

func (c requestCounts) total() float64 {
	var t float64
	for _, v := range c {
		t += v
	}
	return t
}

// keys returns the counted names, sorted.
func (c requestCounts) keys() []string {
	ks := make([]string, 0, len(c))
	for k := range c {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// median returns the median of xs (the mean of the middle two for an even count).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// percentile returns the p-th percentile (0 < p ≤ 100) of ds by the
// nearest-rank method.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(s) {
		i = len(s) - 1
	}
	return s[i]
}

func medianDur(ds []time.Duration) time.Duration {
	xs := make([]float64, len(ds))
	for i, d := range ds {
		xs[i] = float64(d)
	}
	return time.Duration(median(xs))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

// gauges reads the API server's /metrics and returns the values of the
// series named exactly as in names (name and labels as printed).
func (cp *controlPlane) gauges(ctx context.Context, names ...string) (map[string]float64, error) {
	body, err := cp.get(ctx, "/metrics")
	if err != nil {
		return nil, fmt.Errorf("read API server metrics: %w", err)
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string]float64{}
	for _, line := range strings.Split(body, "\n") {
		i := strings.LastIndexByte(line, ' ')
		if i < 0 || !want[line[:i]] {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out, nil
}

// Series of the API server that explain its memory.
const (
	seriesRunWatchCache = `watch_cache_capacity{group="crmflow.io",resource="workflowruns"}`
	seriesHeapInuse     = `go_memstats_heap_inuse_bytes`
)
