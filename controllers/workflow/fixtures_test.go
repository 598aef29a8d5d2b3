package workflow

import (
	"time"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// t0 is the fixed "now" of the pure controller tests; test/fixture builds
// their runs.
var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func names(runs []*v1alpha1.WorkflowRun) []string {
	out := []string{}
	for _, r := range runs {
		out = append(out, r.Name)
	}
	return out
}
