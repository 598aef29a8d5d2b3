package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"fmt"
	"github.com/crmflow/crmflow/internal/history"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the pure-Go "sqlite" driver
)

//go:embed migrations
var migrations embed.FS

// Options tune a store.
type Options struct {
	// SkipsPerMinute caps skipped events stored per workflow per minute (0: DefaultSkipsPerMinute).
	SkipsPerMinute int
}

// Open opens the store named by dsn and applies its schema migrations. A dsn
// starting with postgres:// or postgresql:// is a PostgreSQL connection
// string; anything else is the path of a SQLite database file (an optional
// sqlite: prefix is dropped), created with its directory when missing.
func Open(ctx context.Context, dsn string, opts Options) (history.Store, error) {
	if opts.SkipsPerMinute <= 0 {
		opts.SkipsPerMinute = history.DefaultSkipsPerMinute
	}
	var (
		s   *sqlStore
		err error
	)
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		s, err = openPostgres(dsn)
	} else {
		s, err = openSQLite(strings.TrimPrefix(dsn, "sqlite:"))
	}
	if err != nil {
		return nil, err
	}
	s.skipsPerMinute = int64(opts.SkipsPerMinute)
	if err := s.migrate(ctx); err != nil {
		_ = s.db.Close()
		return nil, err
	}
	if err := s.loadCursorKey(ctx); err != nil {
		_ = s.db.Close()
		return nil, err
	}
	return s, nil
}

// cursorKeyBytes is the length of the secret that signs continue tokens.
const cursorKeyBytes = 32

// loadCursorKey reads the secret that signs continue tokens, first storing a
// random one if the store has none: the first replica to start writes it and
// every other one reads the same row, so a token one replica issued is
// honoured by all of them, and after a restart.
func (s *sqlStore) loadCursorKey(ctx context.Context) error {
	secret := make([]byte, cursorKeyBytes)
	if _, err := rand.Read(secret); err != nil {
		return fmt.Errorf("history store: generate the cursor key: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, s.rebind(`INSERT INTO cursor_key (id, secret) VALUES (1, ?) ON CONFLICT (id) DO NOTHING`), secret); err != nil {
		return fmt.Errorf("history store: store the cursor key: %w", err)
	}
	if err := s.db.QueryRowContext(ctx, `SELECT secret FROM cursor_key WHERE id = 1`).Scan(&s.cursorKey); err != nil {
		return fmt.Errorf("history store: read the cursor key: %w", err)
	}
	if len(s.cursorKey) < cursorKeyBytes {
		return fmt.Errorf("history store: the cursor key in table cursor_key is %d bytes, want %d", len(s.cursorKey), cursorKeyBytes)
	}
	return nil
}

func openSQLite(path string) (*sqlStore, error) {
	if path == "" {
		return nil, fmt.Errorf("history store: empty SQLite path")
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("history store: create directory of %s: %w", path, err)
		}
	}
	db, err := sql.Open("sqlite", SQLiteDSN(path))
	if err != nil {
		return nil, fmt.Errorf("history store: open SQLite %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	return &sqlStore{db: db, dialect: dialectSQLite}, nil
}

// SQLiteDSN is the modernc.org/sqlite data source name the store opens path
// with. WAL lets readers run beside the archiver; synchronous=NORMAL in WAL
// mode survives a killed process (not a power cut of the node);
// _txlock=immediate takes the write lock at BEGIN so concurrent writers wait
// (busy_timeout) instead of failing on a lock upgrade.
func SQLiteDSN(path string) string {
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode()
}

func openPostgres(dsn string) (*sqlStore, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("history store: open PostgreSQL: %w", err)
	}
	db.SetMaxOpenConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return &sqlStore{db: db, dialect: dialectPostgres}, nil
}

// migrate applies the embedded migrations not yet recorded in
// schema_migrations, in version order, in one transaction. On PostgreSQL an
// advisory lock keeps two replicas starting at once from racing.
func (s *sqlStore) migrate(ctx context.Context) error {
	dir := "migrations/" + string(s.dialect)
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return fmt.Errorf("history store: read migrations: %w", err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("history store: begin migration: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if s.dialect == dialectPostgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7346251)`); err != nil {
			return fmt.Errorf("history store: lock for migration: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("history store: create schema_migrations: %w", err)
	}
	applied := map[int64]bool{}
	rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("history store: read schema_migrations: %w", err)
	}
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			_ = rows.Close()
			return fmt.Errorf("history store: read schema_migrations: %w", err)
		}
		applied[v] = true
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("history store: read schema_migrations: %w", err)
	}
	for _, e := range entries {
		version, err := strconv.ParseInt(strings.SplitN(e.Name(), "_", 2)[0], 10, 64)
		if err != nil {
			return fmt.Errorf("history store: migration %s has no numeric version prefix", e.Name())
		}
		if applied[version] {
			continue
		}
		body, err := fs.ReadFile(migrations, dir+"/"+e.Name())
		if err != nil {
			return fmt.Errorf("history store: read migration %s: %w", e.Name(), err)
		}
		for _, stmt := range strings.Split(string(body), ";\n") {
			if strings.TrimSpace(stripComments(stmt)) == "" {
				continue
			}
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("history store: apply migration %s: %w", e.Name(), err)
			}
		}
		if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, ?)`),
			version, e.Name(), time.Now().UnixMilli()); err != nil {
			return fmt.Errorf("history store: record migration %s: %w", e.Name(), err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("history store: commit migrations: %w", err)
	}
	return nil
}

func stripComments(stmt string) string {
	var b strings.Builder
	for _, line := range strings.Split(stmt, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			b.WriteString(line)
		}
	}
	return b.String()
}
