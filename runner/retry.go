package runner

import (
	"fmt"
	"math"
	"time"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// maxRetryAfter caps a server's Retry-After so a bogus answer cannot park a run for years.
const maxRetryAfter = 24 * time.Hour

type retryPolicy struct {
	attempts int32
	initial  time.Duration
	max      time.Duration
}

// parseRetry merges the API's defaults, the workflow's policy and the step's
// (the later wins field by field).
func parseRetry(workflow, step *v1alpha1.RetryPolicy) (retryPolicy, error) {
	var rp retryPolicy
	defaults := v1alpha1.RetryPolicy{}.Defaulted()
	for _, p := range []*v1alpha1.RetryPolicy{&defaults, workflow, step} {
		if p == nil {
			continue
		}
		if p.Attempts != nil {
			if *p.Attempts < 1 {
				return rp, fmt.Errorf("attempts must be at least 1, not %d", *p.Attempts)
			}
			rp.attempts = *p.Attempts
		}
		if p.InitialBackoff != nil {
			d, err := p.InitialBackoff.Parse()
			if err != nil {
				return rp, fmt.Errorf("initialBackoff: %w", err)
			}
			rp.initial = d
		}
		if p.MaxBackoff != nil {
			d, err := p.MaxBackoff.Parse()
			if err != nil {
				return rp, fmt.Errorf("maxBackoff: %w", err)
			}
			rp.max = d
		}
	}
	if rp.max < rp.initial {
		return rp, fmt.Errorf("maxBackoff %s is shorter than initialBackoff %s", rp.max, rp.initial)
	}
	return rp, nil
}

// backoff is the wait after failed attempt n (1-based): initial·2^(n-1),
// times a jitter factor in [0.8, 1.2) from random, capped at max.
func (rp retryPolicy) backoff(n int32, random func() float64) time.Duration {
	d := float64(rp.initial) * math.Pow(2, float64(n-1))
	if d > float64(rp.max) {
		d = float64(rp.max)
	}
	d *= 0.8 + 0.4*random()
	if d > float64(rp.max) {
		d = float64(rp.max)
	}
	return time.Duration(d)
}

// retryDelay honours a server's Retry-After over the computed backoff.
func (rp retryPolicy) retryDelay(n int32, retryAfter time.Duration, random func() float64) time.Duration {
	if retryAfter > 0 {
		return min(retryAfter, maxRetryAfter)
	}
	return rp.backoff(n, random)
}
