//go:build !unit

package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/crmflow/crmflow/internal/history/pgserver"
)

// TestMain starts the PostgreSQL server of the store tests when its binaries
// are installed; without them the PostgreSQL cases skip, except in CI.
func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	var err error
	pg, err = pgserver.Start(context.Background(), pgserver.Options{})
	switch {
	case errors.Is(err, pgserver.ErrNotInstalled) && os.Getenv("CI") == "":
		fmt.Fprintln(os.Stderr, "SKIPPING PostgreSQL store tests:", err)
	case err != nil:
		fmt.Fprintln(os.Stderr, "start PostgreSQL:", err)
		return 1
	default:
		defer func() { _ = pg.Remove() }()
	}
	return m.Run()
}
