package controllers

import "time"

// t0 is the fixed "now" of the pure controller tests; test/fixture builds
// their runs.
var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
