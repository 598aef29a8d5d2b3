// Package sqlstore is the history.Store over SQL: embedded SQLite through the
// pure-Go modernc.org/sqlite driver (no cgo) by default, PostgreSQL through
// pgx for production and multi-replica installs. One set of portable
// statements serves both; versioned migrations (embedded SQL files recorded
// in schema_migrations) are applied by Open.
package sqlstore
