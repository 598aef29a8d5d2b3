// Command bench-history measures the run history store, for SQLite (a file
// in a temporary directory) and PostgreSQL (a throwaway server from the
// Debian package, fsync on), with baselines measured in the same run:
//
//  1. archive throughput: runs/s through Store.Archive in batches, as the
//     archiver writes them, beside a plain INSERT loop of the same rows (one
//     INSERT per row, autocommit) into a table of the same shape and
//     indexes in the same database, and beside that loop in one transaction;
//  2. query latency p50/p99 with -runs stored runs (90 days, -workflows
//     workflows, -subjects contacts): a contact timeline (first page of
//     50), a workflow's 90-day run list (first page) and its 90-day analytics.
//
// Every figure is the median of -reps repetitions. From the repository root:
//
//	go run ./hack/bench-history -runs 1000000 -reps 3
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/internal/history"
	"github.com/crmflow/crmflow/internal/history/pgserver"
	"github.com/crmflow/crmflow/internal/history/sqlstore"
)

type config struct {
	stores      string
	archiveRuns int
	batch       int
	runs        int
	loadBatch   int
	workflows   int
	subjects    int
	queries     int
	reps        int
}

func main() {
	var c config
	flag.StringVar(&c.stores, "stores", "sqlite,postgres", "stores to measure")
	flag.IntVar(&c.archiveRuns, "archive-runs", 20000, "runs written per throughput repetition")
	flag.IntVar(&c.batch, "batch", archiverBatch, "runs per Archive call (the archiver's batch size)")
	flag.IntVar(&c.runs, "runs", 1000000, "runs stored for the query latencies")
	flag.IntVar(&c.loadBatch, "load-batch", 1000, "runs per Archive call while loading the query data set")
	flag.IntVar(&c.workflows, "workflows", 20, "workflows the stored runs belong to")
	flag.IntVar(&c.subjects, "subjects", 100000, "contacts the stored runs are about")
	flag.IntVar(&c.queries, "queries", 300, "queries of each kind per repetition")
	flag.IntVar(&c.reps, "reps", 3, "repetitions; figures are medians")
	flag.Parse()
	if err := run(context.Background(), c); err != nil {
		fmt.Fprintln(os.Stderr, "bench-history:", err)
		os.Exit(1)
	}
}

const archiverBatch = 100

func run(ctx context.Context, c config) error {
	var pg *pgserver.Server
	if strings.Contains(c.stores, "postgres") {
		var err error
		if pg, err = pgserver.Start(ctx, pgserver.Options{Fsync: true}); err != nil {
			return err
		}
		defer func() { _ = pg.Remove() }()
	}
	dir, err := os.MkdirTemp("", "bench-history-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	fmt.Printf("bench-history: %d reps; archive %d runs in batches of %d; queries over %d runs (%d workflows, %d contacts, 90 days)\n\n",
		c.reps, c.archiveRuns, c.batch, c.runs, c.workflows, c.subjects)
	n := 0
	for _, kind := range strings.Split(c.stores, ",") {
		// newDB returns a fresh database: the store's DSN and a plain connection to it.
		newDB := func() (string, *sql.DB, error) {
			n++
			if kind == "postgres" {
				dsn, err := pg.NewDatabase(ctx)
				if err != nil {
					return "", nil, err
				}
				db, err := sql.Open("pgx", dsn)
				return dsn, db, err
			}
			path := filepath.Join(dir, fmt.Sprintf("h%d.db", n))
			db, err := sql.Open("sqlite", sqlstore.SQLiteDSN(path))
			return path, db, err
		}
		if kind != "sqlite" && kind != "postgres" {
			return fmt.Errorf("unknown store %q", kind)
		}
		if err := throughput(ctx, c, kind, newDB); err != nil {
			return fmt.Errorf("%s throughput: %w", kind, err)
		}
		if err := latency(ctx, c, kind, newDB); err != nil {
			return fmt.Errorf("%s latency: %w", kind, err)
		}
	}
	return nil
}

// genRuns makes n finished runs created within span before end.
func genRuns(rng *rand.Rand, prefix string, n, workflows, subjects int, end time.Time, span time.Duration) []history.Run {
	runs := make([]history.Run, n)
	for i := range runs {
		created := end.Add(-time.Duration(rng.Int64N(int64(span))))
		done := created.Add(time.Duration(rng.IntN(3600)) * time.Second)
		t0, t1 := metav1.NewTime(created), metav1.NewTime(done)
		subject := fmt.Sprintf("c-%d", rng.IntN(subjects))
		id := fmt.Sprintf("%s-%d", prefix, i)
		phase, result := v1alpha1.RunSucceeded, v1alpha1.ReasonCompleted
		switch r := rng.IntN(100); {
		case r < 5:
			phase, result = v1alpha1.RunFailed, v1alpha1.ReasonStepFailed
		case r < 8:
			phase, result = v1alpha1.RunCancelled, v1alpha1.ReasonCancelled
		case r < 30:
			result = v1alpha1.ReasonGoalReached
		}
		runs[i] = history.Run{
			UID: id, Namespace: "sales", Name: "run-" + id, Workflow: fmt.Sprintf("wf-%d", rng.IntN(workflows)),
			Subject: subject, EventSource: "crm", EventID: "ev-" + id, EventType: "conversation.started",
			Event: json.RawMessage(fmt.Sprintf(`{"id":"ev-%s","source":"crm","type":"conversation.started","subject":%q,`+
				`"data":{"contact":{"id":%q,"email":"someone@example.com","tags":["VIP","Newsletter"]},"conversation":{"id":"conv-%d","channel":"chat"}}}`,
				id, subject, subject, i)),
			Phase: string(phase), Result: result.String(), Created: created, Started: created, Finished: done,
			Conditions:       []v1alpha1.ConditionResult{{Name: "vip", Expression: `"VIP" in contact.tags`, Result: true, Message: "contact is tagged VIP"}},
			StatusConditions: []metav1.Condition{{Type: v1alpha1.RunSucceededCondition, Status: metav1.ConditionTrue, Reason: result.String(), LastTransitionTime: t1}},
			Steps: []v1alpha1.StepStatus{
				{Name: "notify-vip-team", Phase: v1alpha1.StepSucceeded, StartTime: &t0, FinishTime: &t1, Attempts: 1, IdempotencyKey: id + "/notify-vip-team"},
				{Name: "tag-conversation", Phase: v1alpha1.StepSucceeded, StartTime: &t1, FinishTime: &t1, Attempts: 1, IdempotencyKey: id + "/tag-conversation"},
				{Name: "update-contact", Phase: v1alpha1.StepSkipped, Message: "guard was false"},
			},
		}
	}
	return runs
}

func throughput(ctx context.Context, c config, kind string, newDB func() (string, *sql.DB, error)) error {
	var archive, plain, plainTx []float64
	for rep := range c.reps {
		rng := rand.New(rand.NewPCG(uint64(rep), 1))
		// As the archiver sees them: runs that finished within the last hour.
		runs := genRuns(rng, fmt.Sprintf("t%d", rep), c.archiveRuns, c.workflows, c.subjects, time.Now(), time.Hour)
		dsn, db, err := newDB()
		if err != nil {
			return err
		}
		store, err := sqlstore.Open(ctx, dsn, sqlstore.Options{})
		if err != nil {
			return err
		}
		start := time.Now()
		for i := 0; i < len(runs); i += c.batch {
			if err := store.Archive(ctx, runs[i:min(i+c.batch, len(runs))]); err != nil {
				return err
			}
		}
		archive = append(archive, float64(len(runs))/time.Since(start).Seconds())
		if err := createPlainTable(ctx, db); err != nil {
			return err
		}
		rate, err := plainLoop(ctx, db, kind, runs, false)
		if err != nil {
			return err
		}
		plain = append(plain, rate)
		if _, err := db.ExecContext(ctx, `DELETE FROM plain_runs`); err != nil {
			return err
		}
		rate, err = plainLoop(ctx, db, kind, runs, true)
		if err != nil {
			return err
		}
		plainTx = append(plainTx, rate)
		_ = store.Close()
		_ = db.Close()
	}
	a, p, pt := median(archive), median(plain), median(plainTx)
	fmt.Printf("%-8s archive throughput: Store.Archive (batches of %d) %8.0f runs/s | plain INSERT loop %8.0f rows/s (ratio %.2f) | plain loop in one transaction %8.0f rows/s (ratio %.2f)\n",
		kind, c.batch, a, p, a/p, pt, a/pt)
	fmt.Printf("%-8s   per rep: archive %v, plain %v, plain-in-tx %v\n", kind, ints(archive), ints(plain), ints(plainTx))
	return nil
}

// createPlainTable makes a table shaped and indexed like the store's runs table.
func createPlainTable(ctx context.Context, db *sql.DB) error {
	for _, stmt := range []string{
		`CREATE TABLE plain_runs AS SELECT * FROM runs WHERE 1 = 0`,
		`CREATE UNIQUE INDEX plain_uid ON plain_runs (uid)`,
		`CREATE INDEX plain_by_workflow ON plain_runs (namespace, workflow, created_ms, uid)`,
		`CREATE INDEX plain_by_subject ON plain_runs (namespace, subject, created_ms, uid)`,
		`CREATE INDEX plain_by_name ON plain_runs (namespace, name, created_ms)`,
		`CREATE INDEX plain_by_finish ON plain_runs (finished_ms, uid)`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("create plain table: %w", err)
		}
	}
	return nil
}

// plainLoop inserts each run with one INSERT, as an application without the
// archiver would, and returns rows/s.
func plainLoop(ctx context.Context, db *sql.DB, kind string, runs []history.Run, oneTx bool) (float64, error) {
	stmt := `INSERT INTO plain_runs (uid, namespace, name, workflow, workflow_revision, workflow_generation, subject,
		event_source, event_id, event_type, phase, result, message, created_ms, started_ms, finished_ms, scheduled_ms, body, size_bytes)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	if kind == "postgres" {
		for i := 1; strings.Contains(stmt, "?"); i++ {
			stmt = strings.Replace(stmt, "?", fmt.Sprintf("$%d", i), 1)
		}
	}
	type execer interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
	}
	var ex execer = db
	var tx *sql.Tx
	start := time.Now()
	if oneTx {
		var err error
		if tx, err = db.BeginTx(ctx, nil); err != nil {
			return 0, err
		}
		ex = tx
	}
	for i := range runs {
		r := &runs[i]
		body, err := json.Marshal(struct {
			Event      json.RawMessage            `json:"event,omitempty"`
			Conditions []v1alpha1.ConditionResult `json:"conditions,omitempty"`
			Status     []metav1.Condition         `json:"statusConditions,omitempty"`
			Steps      []v1alpha1.StepStatus      `json:"steps,omitempty"`
		}{r.Event, r.Conditions, r.StatusConditions, r.Steps})
		if err != nil {
			return 0, err
		}
		if _, err := ex.ExecContext(ctx, stmt, r.UID, r.Namespace, r.Name, r.Workflow, r.WorkflowRevision, r.WorkflowGeneration, r.Subject,
			r.EventSource, r.EventID, r.EventType, r.Phase, r.Result, r.Message, r.Created.UnixMilli(), r.Started.UnixMilli(),
			r.Finished.UnixMilli(), int64(0), string(body), int64(len(body))); err != nil {
			return 0, fmt.Errorf("plain insert: %w", err)
		}
	}
	if tx != nil {
		if err := tx.Commit(); err != nil {
			return 0, err
		}
	}
	return float64(len(runs)) / time.Since(start).Seconds(), nil
}

func latency(ctx context.Context, c config, kind string, newDB func() (string, *sql.DB, error)) error {
	if c.runs <= 0 {
		return nil
	}
	dsn, db, err := newDB()
	if err != nil {
		return err
	}
	_ = db.Close()
	store, err := sqlstore.Open(ctx, dsn, sqlstore.Options{})
	if err != nil {
		return err
	}
	defer func() { _ = store.Close() }()
	end := time.Now()
	rng := rand.New(rand.NewPCG(42, 7))
	start := time.Now()
	const chunk = 50000
	for done := 0; done < c.runs; done += chunk {
		runs := genRuns(rng, fmt.Sprintf("q%d", done), min(chunk, c.runs-done), c.workflows, c.subjects, end, 89*24*time.Hour)
		for i := 0; i < len(runs); i += c.loadBatch {
			if err := store.Archive(ctx, runs[i:min(i+c.loadBatch, len(runs))]); err != nil {
				return err
			}
		}
	}
	fmt.Printf("%-8s loaded %d runs in %s\n", kind, c.runs, time.Since(start).Round(time.Second))
	kinds := []struct {
		name  string
		query func(*rand.Rand) error
	}{
		{"contact timeline (50 newest)", func(r *rand.Rand) error {
			_, err := store.Timeline(ctx, history.RunQuery{Namespace: "sales", Subject: fmt.Sprintf("c-%d", r.IntN(c.subjects)), Limit: 50})
			return err
		}},
		{"workflow runs, 90 days (page of 50)", func(r *rand.Rand) error {
			_, err := store.ListRuns(ctx, history.RunQuery{Namespace: "sales", Workflow: fmt.Sprintf("wf-%d", r.IntN(c.workflows)),
				From: end.Add(-90 * 24 * time.Hour), To: end, Limit: 50})
			return err
		}},
		{"analytics, 90 days", func(r *rand.Rand) error {
			a, err := store.Analytics(ctx, "sales", fmt.Sprintf("wf-%d", r.IntN(c.workflows)), end.Add(-90*24*time.Hour), end)
			if err == nil && a.Total.Enrolled == 0 {
				err = errors.New("analytics found no runs")
			}
			return err
		}},
	}
	for _, k := range kinds {
		var p50s, p99s []float64
		for rep := range c.reps {
			r := rand.New(rand.NewPCG(uint64(rep), 99))
			lat := make([]float64, 0, c.queries)
			for range c.queries {
				t := time.Now()
				if err := k.query(r); err != nil {
					return fmt.Errorf("%s: %w", k.name, err)
				}
				lat = append(lat, float64(time.Since(t).Microseconds())/1000)
			}
			sort.Float64s(lat)
			p50s = append(p50s, lat[len(lat)/2])
			p99s = append(p99s, lat[len(lat)*99/100])
		}
		fmt.Printf("%-8s %-38s p50 %7.2f ms  p99 %7.2f ms  (medians of %d reps of %d queries)\n", kind, k.name, median(p50s), median(p99s), c.reps, c.queries)
	}
	return nil
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func ints(xs []float64) []int {
	out := make([]int, len(xs))
	for i, x := range xs {
		out[i] = int(x)
	}
	return out
}
