// Package pgserver starts a throwaway PostgreSQL server from the Debian
// postgresql package (initdb and postgres from /usr/lib/postgresql/<v>/bin)
// in a temporary directory, on 127.0.0.1 and a free port, for the history
// store's tests and benchmark. As root it runs the server as the "postgres"
// user, since initdb refuses to run as root.
package pgserver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// ErrNotInstalled is returned by Find when no PostgreSQL binaries are installed.
var ErrNotInstalled = errors.New("PostgreSQL binaries not found (install the Debian postgresql package, or set CRMFLOW_PG_BIN)")

// Options tune the server.
type Options struct {
	// Fsync keeps PostgreSQL's fsync on (off by default: a test server need not survive a power cut).
	Fsync bool
}

// Server is one running (or stopped) throwaway PostgreSQL cluster.
type Server struct {
	bin, dir, data string
	port           int
	opts           Options
	cred           *syscall.Credential
	cmd            *exec.Cmd
	done           chan struct{}
	dbs            atomic.Int64
}

// Find returns the directory holding initdb and postgres: $CRMFLOW_PG_BIN, or
// the newest /usr/lib/postgresql/*/bin.
func Find() (string, error) {
	if dir := os.Getenv("CRMFLOW_PG_BIN"); dir != "" {
		return dir, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", ErrNotInstalled
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// Start initialises a cluster in a new temporary directory and starts it.
// Stop it, then Remove it, when done.
func Start(ctx context.Context, opts Options) (*Server, error) {
	bin, err := Find()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "crmflow-pg-")
	if err != nil {
		return nil, fmt.Errorf("create PostgreSQL directory: %w", err)
	}
	s := &Server{bin: bin, dir: dir, data: filepath.Join(dir, "data"), opts: opts}
	if os.Geteuid() == 0 {
		if s.cred, err = postgresUser(); err != nil {
			return nil, errors.Join(err, s.Remove())
		}
		if err := os.Chown(dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			return nil, errors.Join(fmt.Errorf("chown %s to postgres: %w", dir, err), s.Remove())
		}
	}
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", s.data, "-U", "crmflow",
		"--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, errors.Join(fmt.Errorf("initdb: %w: %s", err, out), s.Remove())
	}
	if s.port, err = freePort(); err != nil {
		return nil, errors.Join(err, s.Remove())
	}
	if err := s.Resume(ctx); err != nil {
		return nil, errors.Join(err, s.Remove())
	}
	return s, nil
}

func postgresUser() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, and no postgres user to run PostgreSQL as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Resume starts the server (again) on its port and waits until it accepts connections.
func (s *Server) Resume(ctx context.Context) error {
	if s.cmd != nil {
		return nil
	}
	fsync := "off"
	if s.opts.Fsync {
		fsync = "on"
	}
	cmd := exec.Command(filepath.Join(s.bin, "postgres"), "-D", s.data, "-p", strconv.Itoa(s.port),
		"-h", "127.0.0.1", "-k", s.dir, "-c", "fsync="+fsync, "-c", "max_connections=200",
		"-c", "shared_buffers=128MB")
	// The server dies with the test process, even on SIGKILL.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Pdeathsig: syscall.SIGKILL}
	logFile, err := os.OpenFile(filepath.Join(s.dir, "postgres.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("open PostgreSQL log: %w", err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return fmt.Errorf("start postgres: %w", err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); _ = logFile.Close(); close(s.done) }()
	db, err := sql.Open("pgx", s.DSN("postgres"))
	if err != nil {
		return fmt.Errorf("open PostgreSQL: %w", err)
	}
	defer func() { _ = db.Close() }()
	deadline := time.NewTimer(60 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if err = db.PingContext(ctx); err == nil {
			return nil
		}
		select {
		case <-s.done:
			s.cmd = nil
			log, _ := os.ReadFile(filepath.Join(s.dir, "postgres.log"))
			return fmt.Errorf("postgres exited at start: %s", log)
		case <-deadline.C:
			return fmt.Errorf("postgres did not accept connections within 60s: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Stop shuts the server down (fast shutdown) and waits for it; the data stays for Resume.
func (s *Server) Stop() error {
	if s.cmd == nil {
		return nil
	}
	if err := s.cmd.Process.Signal(syscall.SIGINT); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop postgres: %w", err)
	}
	<-s.done
	s.cmd = nil
	return nil
}

// Remove stops the server and deletes its directory.
func (s *Server) Remove() error {
	return errors.Join(s.Stop(), os.RemoveAll(s.dir))
}

// DSN is the connection string of database db.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("postgres://crmflow@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// NewDatabase creates an empty database and returns its DSN.
func (s *Server) NewDatabase(ctx context.Context) (string, error) {
	name := fmt.Sprintf("crmflow_%d", s.dbs.Add(1))
	db, err := sql.Open("pgx", s.DSN("postgres"))
	if err != nil {
		return "", fmt.Errorf("open PostgreSQL: %w", err)
	}
	defer func() { _ = db.Close() }()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return s.DSN(name), nil
}
