package sqlstore_test

import (
	"path/filepath"
	"testing"

	"github.com/crmflow/crmflow/internal/history"
	"github.com/crmflow/crmflow/internal/history/pgserver"
	"github.com/crmflow/crmflow/internal/history/sqlstore"
)

// pg is the throwaway PostgreSQL server of this package's tests, started by
// TestMain (postgres_test.go); nil when the binaries are not installed locally
// (CI installs them and sets CI=true, so there a missing server fails instead
// of skipping) and in the unit build (-tags unit), which runs SQLite only.
var pg *pgserver.Server

// eachStore runs test against a fresh SQLite store in a temp dir and a fresh
// database of the PostgreSQL server.
func eachStore(t *testing.T, opts sqlstore.Options, test func(t *testing.T, s history.Store)) {
	t.Helper()
	eachDSN(t, func(t *testing.T, dsn string) {
		s, err := sqlstore.Open(t.Context(), dsn, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		test(t, s)
	})
}

// eachDSN runs test with the DSN of a fresh SQLite database in a temp dir and
// of a fresh database of the PostgreSQL server, for tests that open a store
// more than once (a restart, a second replica).
func eachDSN(t *testing.T, test func(t *testing.T, dsn string)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		test(t, filepath.Join(t.TempDir(), "history.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		if pg == nil {
			t.Skip("no PostgreSQL server: a unit build (-tags unit), or its binaries are not installed locally (apt-get install postgresql)")
		}
		dsn, err := pg.NewDatabase(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		test(t, dsn)
	})
}
