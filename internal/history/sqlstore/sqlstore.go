package sqlstore

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/crmflow/crmflow/internal/history"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

type dialect string

const (
	dialectSQLite   dialect = "sqlite"
	dialectPostgres dialect = "postgres"
)

const dayMillis = int64(24 * time.Hour / time.Millisecond)

// archiveChunk bounds the rows of one multi-row INSERT (SQLite caps bound parameters).
const archiveChunk = 200

// sqlStore is the Store over database/sql, shared by SQLite and PostgreSQL:
// the SQL is portable (ON CONFLICT, RETURNING, row values, window functions)
// and only the placeholder style differs.
type sqlStore struct {
	db             *sql.DB
	dialect        dialect
	skipsPerMinute int64
	// cursorKey signs continue tokens (table cursor_key).
	cursorKey []byte
}

var _ history.Store = (*sqlStore)(nil)

// rebind turns ? placeholders into PostgreSQL's $n.
func (s *sqlStore) rebind(q string) string {
	if s.dialect != dialectPostgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// runBody is the part of a run kept as one JSON document.
type runBody struct {
	Event          json.RawMessage            `json:"event,omitempty"`
	EventTruncated bool                       `json:"eventTruncated,omitempty"`
	Conditions     []v1alpha1.ConditionResult `json:"conditions,omitempty"`
	Status         []metav1.Condition         `json:"statusConditions,omitempty"`
	Steps          []v1alpha1.StepStatus      `json:"steps,omitempty"`
}

const runColumns = `uid, namespace, name, workflow, workflow_revision, workflow_generation, subject,
	event_source, event_id, event_type, phase, result, message, created_ms, started_ms, finished_ms,
	scheduled_ms, body, size_bytes`

const runColumnCount = 19

type dayKey struct {
	ns, wf string
	day    int64
}

type stepKey struct {
	dayKey
	step string
}

// Archive implements Store.
func (s *sqlStore) Archive(ctx context.Context, runs []history.Run) error {
	if len(runs) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("archive: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	byUID := make(map[string]*history.Run, len(runs))
	for start := 0; start < len(runs); start += archiveChunk {
		chunk := runs[start:min(start+archiveChunk, len(runs))]
		insert := s.insertRuns
		if s.dialect == dialectSQLite {
			insert = s.insertRunsEach
		}
		inserted, err := insert(ctx, tx, chunk)
		if err != nil {
			return err
		}
		for i := range chunk {
			if inserted[chunk[i].UID] {
				byUID[chunk[i].UID] = &chunk[i]
			}
		}
	}
	if err := s.insertEventKeys(ctx, tx, byUID); err != nil {
		return err
	}
	if err := s.addRollups(ctx, tx, byUID); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("archive: commit: %w", err)
	}
	return nil
}

var runTuple = "(" + strings.TrimSuffix(strings.Repeat("?, ", runColumnCount), ", ") + ")"

// runArgs are the column values of r, in runColumns order.
func runArgs(r *history.Run) ([]any, error) {
	body, err := json.Marshal(runBody{Event: r.Event, EventTruncated: r.EventTruncated, Conditions: r.Conditions, Status: r.StatusConditions, Steps: r.Steps})
	if err != nil {
		return nil, fmt.Errorf("archive: encode run %s: %w", r.UID, err)
	}
	size := int64(len(body) + len(r.Message) + len(r.Subject) + len(r.Name) + 64)
	return []any{r.UID, r.Namespace, r.Name, r.Workflow, r.WorkflowRevision, r.WorkflowGeneration, r.Subject,
		r.EventSource, r.EventID, r.EventType, r.Phase, r.Result, r.Message, millis(r.Created), millis(r.Started),
		millis(r.Finished), millisPtr(r.ScheduledTime), string(body), size}, nil
}

// insertRunsEach inserts a chunk row by row through one prepared statement:
// in-process SQLite has no round trip to save, and binding thousands of
// parameters to one statement costs more than reusing a small one.
func (s *sqlStore) insertRunsEach(ctx context.Context, tx *sql.Tx, chunk []history.Run) (map[string]bool, error) {
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO runs (`+runColumns+`) VALUES `+runTuple+` ON CONFLICT (uid) DO NOTHING`)
	if err != nil {
		return nil, fmt.Errorf("archive: prepare insert: %w", err)
	}
	defer func() { _ = stmt.Close() }()
	inserted := make(map[string]bool, len(chunk))
	for i := range chunk {
		args, err := runArgs(&chunk[i])
		if err != nil {
			return nil, err
		}
		res, err := stmt.ExecContext(ctx, args...)
		if err != nil {
			return nil, fmt.Errorf("archive: insert run: %w", err)
		}
		if n, err := res.RowsAffected(); err == nil && n == 1 {
			inserted[chunk[i].UID] = true
		}
	}
	return inserted, nil
}

// insertRuns inserts a chunk in one statement (one round trip to a server)
// and returns the UIDs that were new.
func (s *sqlStore) insertRuns(ctx context.Context, tx *sql.Tx, chunk []history.Run) (map[string]bool, error) {
	var q strings.Builder
	q.WriteString(`INSERT INTO runs (` + runColumns + `) VALUES `)
	args := make([]any, 0, len(chunk)*runColumnCount)
	for i := range chunk {
		row, err := runArgs(&chunk[i])
		if err != nil {
			return nil, err
		}
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString(runTuple)
		args = append(args, row...)
	}
	q.WriteString(` ON CONFLICT (uid) DO NOTHING RETURNING uid`)
	rows, err := tx.QueryContext(ctx, s.rebind(q.String()), args...)
	if err != nil {
		return nil, fmt.Errorf("archive: insert runs: %w", err)
	}
	defer func() { _ = rows.Close() }()
	inserted := make(map[string]bool, len(chunk))
	for rows.Next() {
		var uid string
		if err := rows.Scan(&uid); err != nil {
			return nil, fmt.Errorf("archive: insert runs: %w", err)
		}
		inserted[uid] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("archive: insert runs: %w", err)
	}
	return inserted, nil
}

func (s *sqlStore) insertEventKeys(ctx context.Context, tx *sql.Tx, runs map[string]*history.Run) error {
	var q strings.Builder
	var args []any
	for _, r := range runs {
		if r.EventID == "" {
			continue
		}
		if len(args) > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?, ?, ?, ?)")
		args = append(args, r.Namespace, r.Workflow, r.EventSource, r.EventID, r.UID, millis(r.Finished))
	}
	if len(args) == 0 {
		return nil
	}
	stmt := `INSERT INTO event_keys (namespace, workflow, event_source, event_id, uid, finished_ms) VALUES ` +
		q.String() + ` ON CONFLICT (namespace, workflow, event_source, event_id) DO NOTHING`
	if _, err := tx.ExecContext(ctx, s.rebind(stmt), args...); err != nil {
		return fmt.Errorf("archive: insert event keys: %w", err)
	}
	return nil
}

// addRollups adds the newly stored runs to the per-day counters.
func (s *sqlStore) addRollups(ctx context.Context, tx *sql.Tx, runs map[string]*history.Run) error {
	days := map[dayKey]*history.DayStats{}
	steps := map[stepKey]*history.StepStats{}
	for _, r := range runs {
		k := dayKey{r.Namespace, r.Workflow, millis(r.Created) / dayMillis}
		d := days[k]
		if d == nil {
			d = &history.DayStats{}
			days[k] = d
		}
		d.Enrolled++
		switch v1alpha1.RunPhase(r.Phase) {
		case v1alpha1.RunSucceeded:
			d.Completed++
		case v1alpha1.RunFailed:
			d.Failed++
		case v1alpha1.RunCancelled:
			d.Cancelled++
		}
		if r.Result == v1alpha1.ReasonGoalReached.String() {
			d.GoalReached++
		}
		for i := range r.Steps {
			st := &r.Steps[i]
			sk := stepKey{k, st.Name}
			c := steps[sk]
			if c == nil {
				c = &history.StepStats{}
				steps[sk] = c
			}
			c.Reached++
			switch st.Phase {
			case v1alpha1.StepSucceeded:
				c.Succeeded++
			case v1alpha1.StepFailed:
				c.Failed++
			case v1alpha1.StepSkipped:
				c.Skipped++
			}
		}
	}
	dayStmt := s.rebind(`INSERT INTO daily (namespace, workflow, day, enrolled, succeeded, failed, cancelled, goal_reached)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (namespace, workflow, day) DO UPDATE SET
		enrolled = daily.enrolled + excluded.enrolled, succeeded = daily.succeeded + excluded.succeeded,
		failed = daily.failed + excluded.failed, cancelled = daily.cancelled + excluded.cancelled,
		goal_reached = daily.goal_reached + excluded.goal_reached`)
	dayPrepared, err := tx.PrepareContext(ctx, dayStmt)
	if err != nil {
		return fmt.Errorf("archive: prepare daily counts: %w", err)
	}
	defer func() { _ = dayPrepared.Close() }()
	for k, d := range days {
		if _, err := dayPrepared.ExecContext(ctx, k.ns, k.wf, k.day, d.Enrolled, d.Completed, d.Failed, d.Cancelled, d.GoalReached); err != nil {
			return fmt.Errorf("archive: update daily counts: %w", err)
		}
	}
	stepStmt := s.rebind(`INSERT INTO daily_steps (namespace, workflow, day, step, reached, succeeded, failed, skipped)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (namespace, workflow, day, step) DO UPDATE SET
		reached = daily_steps.reached + excluded.reached, succeeded = daily_steps.succeeded + excluded.succeeded,
		failed = daily_steps.failed + excluded.failed, skipped = daily_steps.skipped + excluded.skipped`)
	stepPrepared, err := tx.PrepareContext(ctx, stepStmt)
	if err != nil {
		return fmt.Errorf("archive: prepare daily step counts: %w", err)
	}
	defer func() { _ = stepPrepared.Close() }()
	for k, c := range steps {
		if _, err := stepPrepared.ExecContext(ctx, k.ns, k.wf, k.day, k.step, c.Reached, c.Succeeded, c.Failed, c.Skipped); err != nil {
			return fmt.Errorf("archive: update daily step counts: %w", err)
		}
	}
	return nil
}

// RecordSkips implements Store. Skips beyond the per-workflow-per-minute cap
// are counted (skip_minutes.seen) but not stored.
func (s *sqlStore) RecordSkips(ctx context.Context, skips []history.Skip) (int, error) {
	if len(skips) == 0 {
		return 0, nil
	}
	type minuteKey struct {
		ns, wf string
		minute int64
	}
	groups := map[minuteKey][]history.Skip{}
	var order []minuteKey
	for i := range skips {
		sk := &skips[i]
		k := minuteKey{sk.Namespace, sk.Workflow, millis(sk.Time) / 60000}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], *sk)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("record skips: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	countStmt := s.rebind(`INSERT INTO skip_minutes (namespace, workflow, minute, seen) VALUES (?, ?, ?, ?)
		ON CONFLICT (namespace, workflow, minute) DO UPDATE SET seen = skip_minutes.seen + excluded.seen RETURNING seen`)
	insertStmt := s.rebind(`INSERT INTO skips (namespace, workflow, reason, event_id, event_source, subject, message, at_ms)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	kept := 0
	for _, k := range order {
		group := groups[k]
		var seen int64
		if err := tx.QueryRowContext(ctx, countStmt, k.ns, k.wf, k.minute, len(group)).Scan(&seen); err != nil {
			return 0, fmt.Errorf("record skips: count: %w", err)
		}
		room := s.skipsPerMinute - (seen - int64(len(group)))
		for i := 0; i < len(group) && int64(i) < room; i++ {
			sk := group[i]
			if _, err := tx.ExecContext(ctx, insertStmt, sk.Namespace, sk.Workflow, sk.Reason, sk.EventID, sk.EventSource,
				sk.Subject, sk.Message, millis(sk.Time)); err != nil {
				return 0, fmt.Errorf("record skips: insert: %w", err)
			}
			kept++
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("record skips: commit: %w", err)
	}
	return kept, nil
}

// HasEvent implements Store from the primary key of event_keys.
func (s *sqlStore) HasEvent(ctx context.Context, namespace, workflow, source, id string) (bool, error) {
	var one int
	err := s.db.QueryRowContext(ctx, s.rebind(`SELECT 1 FROM event_keys
		WHERE namespace = ? AND workflow = ? AND event_source = ? AND event_id = ?`), namespace, workflow, source, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up event %s/%s for %s/%s: %w", source, id, namespace, workflow, err)
	}
	return true, nil
}

// GetRun implements Store.
func (s *sqlStore) GetRun(ctx context.Context, namespace, name string) (history.Run, error) {
	rows, err := s.db.QueryContext(ctx, s.rebind(`SELECT `+runColumns+` FROM runs
		WHERE namespace = ? AND name = ? ORDER BY created_ms DESC LIMIT 1`), namespace, name)
	if err != nil {
		return history.Run{}, fmt.Errorf("get run %s/%s: %w", namespace, name, err)
	}
	runs, err := scanRuns(rows)
	if err != nil {
		return history.Run{}, fmt.Errorf("get run %s/%s: %w", namespace, name, err)
	}
	if len(runs) == 0 {
		return history.Run{}, history.ErrNotFound
	}
	return runs[0], nil
}

// ListRuns implements Store.
func (s *sqlStore) ListRuns(ctx context.Context, q history.RunQuery) (history.RunPage, error) {
	return s.pageRuns(ctx, q, "workflow", q.Workflow)
}

// Timeline implements Store.
func (s *sqlStore) Timeline(ctx context.Context, q history.RunQuery) (history.RunPage, error) {
	return s.pageRuns(ctx, q, "subject", q.Subject)
}

// pageRuns pages through runs where column = value (the leading column of an
// index after namespace), newest first, by the keyset (created_ms, uid).
func (s *sqlStore) pageRuns(ctx context.Context, q history.RunQuery, column, value string) (history.RunPage, error) {
	limit := clampLimit(q.Limit)
	where := []string{"namespace = ?", column + " = ?"}
	args := []any{q.Namespace, value}
	if column == "workflow" && q.Subject != "" {
		where, args = append(where, "subject = ?"), append(args, q.Subject)
	}
	if q.Phase != "" {
		where, args = append(where, "phase = ?"), append(args, q.Phase)
	}
	if !q.From.IsZero() {
		where, args = append(where, "created_ms >= ?"), append(args, millis(q.From))
	}
	if !q.To.IsZero() {
		where, args = append(where, "created_ms < ?"), append(args, millis(q.To))
	}
	if q.Cursor != "" {
		ms, uid, err := s.decodeCursor(q.Cursor, q.Namespace, column, value)
		if err != nil {
			return history.RunPage{}, err
		}
		where, args = append(where, "(created_ms, uid) < (?, ?)"), append(args, ms, uid)
	}
	stmt := `SELECT ` + runColumns + ` FROM runs WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY created_ms DESC, uid DESC LIMIT ` + strconv.Itoa(limit+1)
	rows, err := s.db.QueryContext(ctx, s.rebind(stmt), args...)
	if err != nil {
		return history.RunPage{}, fmt.Errorf("query runs: %w", err)
	}
	runs, err := scanRuns(rows)
	if err != nil {
		return history.RunPage{}, fmt.Errorf("query runs: %w", err)
	}
	page := history.RunPage{Runs: runs}
	if len(runs) > limit {
		page.Runs = runs[:limit]
		last := page.Runs[limit-1]
		page.Next = s.encodeCursor(q.Namespace, column, value, millis(last.Created), last.UID)
	}
	if page.Runs == nil {
		page.Runs = []history.Run{}
	}
	return page, nil
}

// Skips implements Store.
func (s *sqlStore) Skips(ctx context.Context, q history.SkipQuery) ([]history.Skip, error) {
	where := []string{"namespace = ?"}
	args := []any{q.Namespace}
	for _, f := range []struct{ col, val string }{{"workflow", q.Workflow}, {"event_id", q.EventID}, {"subject", q.Subject}} {
		if f.val != "" {
			where, args = append(where, f.col+" = ?"), append(args, f.val)
		}
	}
	if !q.From.IsZero() {
		where, args = append(where, "at_ms >= ?"), append(args, millis(q.From))
	}
	if !q.To.IsZero() {
		where, args = append(where, "at_ms < ?"), append(args, millis(q.To))
	}
	stmt := `SELECT namespace, workflow, reason, event_id, event_source, subject, message, at_ms FROM skips WHERE ` +
		strings.Join(where, " AND ") + ` ORDER BY at_ms DESC, id DESC LIMIT ` + strconv.Itoa(clampLimit(q.Limit))
	rows, err := s.db.QueryContext(ctx, s.rebind(stmt), args...)
	if err != nil {
		return nil, fmt.Errorf("query skips: %w", err)
	}
	defer func() { _ = rows.Close() }()
	out := []history.Skip{}
	for rows.Next() {
		var sk history.Skip
		var at int64
		if err := rows.Scan(&sk.Namespace, &sk.Workflow, &sk.Reason, &sk.EventID, &sk.EventSource, &sk.Subject, &sk.Message, &at); err != nil {
			return nil, fmt.Errorf("query skips: %w", err)
		}
		sk.Time = fromMillis(at)
		out = append(out, sk)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query skips: %w", err)
	}
	return out, nil
}

// Analytics implements Store from the daily rollups.
func (s *sqlStore) Analytics(ctx context.Context, namespace, workflow string, from, to time.Time) (history.Analytics, error) {
	out := history.Analytics{Namespace: namespace, Workflow: workflow, Days: []history.DayStats{}}
	fromDay, toDay := floorDiv(millis(from), dayMillis), floorDiv(millis(to)+dayMillis-1, dayMillis)
	rows, err := s.db.QueryContext(ctx, s.rebind(`SELECT day, enrolled, succeeded, failed, cancelled, goal_reached FROM daily
		WHERE namespace = ? AND workflow = ? AND day >= ? AND day < ? ORDER BY day`), namespace, workflow, fromDay, toDay)
	if err != nil {
		return out, fmt.Errorf("query analytics of %s/%s: %w", namespace, workflow, err)
	}
	index := map[int64]int{}
	for rows.Next() {
		var day int64
		var d history.DayStats
		if err := rows.Scan(&day, &d.Enrolled, &d.Completed, &d.Failed, &d.Cancelled, &d.GoalReached); err != nil {
			_ = rows.Close()
			return out, fmt.Errorf("query analytics of %s/%s: %w", namespace, workflow, err)
		}
		d.Day = fromMillis(day * dayMillis).Format(time.DateOnly)
		index[day] = len(out.Days)
		out.Days = append(out.Days, d)
	}
	if err := rows.Close(); err != nil {
		return out, fmt.Errorf("query analytics of %s/%s: %w", namespace, workflow, err)
	}
	rows, err = s.db.QueryContext(ctx, s.rebind(`SELECT day, step, reached, succeeded, failed, skipped FROM daily_steps
		WHERE namespace = ? AND workflow = ? AND day >= ? AND day < ? ORDER BY day, step`), namespace, workflow, fromDay, toDay)
	if err != nil {
		return out, fmt.Errorf("query step analytics of %s/%s: %w", namespace, workflow, err)
	}
	defer func() { _ = rows.Close() }()
	totals := map[string]*history.StepStats{}
	for rows.Next() {
		var day int64
		var st history.StepStats
		if err := rows.Scan(&day, &st.Name, &st.Reached, &st.Succeeded, &st.Failed, &st.Skipped); err != nil {
			return out, fmt.Errorf("query step analytics of %s/%s: %w", namespace, workflow, err)
		}
		if i, ok := index[day]; ok {
			out.Days[i].Steps = append(out.Days[i].Steps, st)
		}
		t := totals[st.Name]
		if t == nil {
			t = &history.StepStats{Name: st.Name}
			totals[st.Name] = t
		}
		t.Reached, t.Succeeded, t.Failed, t.Skipped = t.Reached+st.Reached, t.Succeeded+st.Succeeded, t.Failed+st.Failed, t.Skipped+st.Skipped
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("query step analytics of %s/%s: %w", namespace, workflow, err)
	}
	for i := range out.Days {
		d := &out.Days[i]
		d.ConversionRate = rate(d.GoalReached, d.Enrolled)
		t := &out.Total
		t.Enrolled, t.Completed, t.Failed, t.Cancelled, t.GoalReached = t.Enrolled+d.Enrolled, t.Completed+d.Completed,
			t.Failed+d.Failed, t.Cancelled+d.Cancelled, t.GoalReached+d.GoalReached
	}
	out.Total.ConversionRate = rate(out.Total.GoalReached, out.Total.Enrolled)
	for _, t := range totals {
		out.Total.Steps = append(out.Total.Steps, *t)
	}
	sort.Slice(out.Total.Steps, func(i, j int) bool { return out.Total.Steps[i].Name < out.Total.Steps[j].Name })
	return out, nil
}

// Prune implements Store.
func (s *sqlStore) Prune(ctx context.Context, now time.Time, b history.Bounds) (history.PruneResult, error) {
	var res history.PruneResult
	retention := b.Retention
	if retention <= 0 {
		retention = history.DefaultRetention
	}
	cutoff := millis(now.Add(-retention))
	exec := func(what string, n *int64, stmt string, args ...any) error {
		r, err := s.db.ExecContext(ctx, s.rebind(stmt), args...)
		if err != nil {
			return fmt.Errorf("prune %s: %w", what, err)
		}
		if n != nil {
			affected, _ := r.RowsAffected()
			*n += affected
		}
		return nil
	}
	if err := exec("runs", &res.Runs, `DELETE FROM runs WHERE finished_ms < ?`, cutoff); err != nil {
		return res, err
	}
	if err := exec("event keys", &res.EventKeys, `DELETE FROM event_keys WHERE finished_ms < ?`, cutoff); err != nil {
		return res, err
	}
	if err := exec("skips", &res.Skips, `DELETE FROM skips WHERE at_ms < ?`, cutoff); err != nil {
		return res, err
	}
	if err := exec("skip counters", nil, `DELETE FROM skip_minutes WHERE minute < ?`, floorDiv(cutoff, 60000)); err != nil {
		return res, err
	}
	if err := exec("daily counts", nil, `DELETE FROM daily WHERE day < ?`, floorDiv(cutoff, dayMillis)); err != nil {
		return res, err
	}
	if err := exec("daily step counts", nil, `DELETE FROM daily_steps WHERE day < ?`, floorDiv(cutoff, dayMillis)); err != nil {
		return res, err
	}
	// The size bound: find the newest run that no longer fits and drop it and
	// everything finished before it.
	if b.MaxRuns > 0 {
		if err := s.pruneFrom(ctx, &res, `SELECT finished_ms, uid FROM runs ORDER BY finished_ms DESC, uid DESC LIMIT 1 OFFSET ?`, b.MaxRuns); err != nil {
			return res, err
		}
	}
	if b.MaxBytes > 0 {
		if err := s.pruneFrom(ctx, &res, `SELECT finished_ms, uid FROM (SELECT finished_ms, uid,
			SUM(size_bytes) OVER (ORDER BY finished_ms DESC, uid DESC) AS total FROM runs) sized
			WHERE total > ? ORDER BY finished_ms DESC, uid DESC LIMIT 1`, b.MaxBytes); err != nil {
			return res, err
		}
	}
	return res, nil
}

func (s *sqlStore) pruneFrom(ctx context.Context, res *history.PruneResult, find string, arg int64) error {
	var ms int64
	var uid string
	err := s.db.QueryRowContext(ctx, s.rebind(find), arg).Scan(&ms, &uid)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("prune to size: %w", err)
	}
	r, err := s.db.ExecContext(ctx, s.rebind(`DELETE FROM runs WHERE (finished_ms, uid) <= (?, ?)`), ms, uid)
	if err != nil {
		return fmt.Errorf("prune to size: %w", err)
	}
	n, _ := r.RowsAffected()
	res.Runs += n
	return nil
}

// Ping implements Store.
func (s *sqlStore) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping history store: %w", err)
	}
	return nil
}

// Close implements Store.
func (s *sqlStore) Close() error { return s.db.Close() }

func scanRuns(rows *sql.Rows) ([]history.Run, error) {
	defer func() { _ = rows.Close() }()
	var out []history.Run
	for rows.Next() {
		var r history.Run
		var created, started, finished, scheduled, size int64
		var body string
		if err := rows.Scan(&r.UID, &r.Namespace, &r.Name, &r.Workflow, &r.WorkflowRevision, &r.WorkflowGeneration, &r.Subject,
			&r.EventSource, &r.EventID, &r.EventType, &r.Phase, &r.Result, &r.Message, &created, &started, &finished,
			&scheduled, &body, &size); err != nil {
			return nil, err
		}
		r.Created, r.Finished = fromMillis(created), fromMillis(finished)
		if started != 0 {
			r.Started = fromMillis(started)
		}
		if scheduled != 0 {
			t := fromMillis(scheduled)
			r.ScheduledTime = &t
		}
		var b runBody
		if err := json.Unmarshal([]byte(body), &b); err != nil {
			return nil, fmt.Errorf("decode run %s: %w", r.UID, err)
		}
		r.Event, r.EventTruncated, r.Conditions, r.StatusConditions, r.Steps = b.Event, b.EventTruncated, b.Conditions, b.Status, b.Steps
		out = append(out, r)
	}
	return out, rows.Err()
}

func clampLimit(n int) int {
	switch {
	case n <= 0:
		return history.DefaultLimit
	case n > history.MaxLimit:
		return history.MaxLimit
	}
	return n
}

// cursorMACBytes is the length of the (truncated) HMAC-SHA256 that leads a
// continue token.
const cursorMACBytes = 16

// encodeCursor returns the continue token after the run (ms, uid) of the
// list of runs in namespace where column = value: base64url of an
// HMAC-SHA256 of all of these, then the keyset "ms|uid". The MAC makes the
// token tamper-evident and binds it to its list.
func (s *sqlStore) encodeCursor(namespace, column, value string, ms int64, uid string) string {
	keyset := []byte(strconv.FormatInt(ms, 10) + "|" + uid)
	return base64.RawURLEncoding.EncodeToString(append(s.cursorMAC(namespace, column, value, keyset), keyset...))
}

// decodeCursor returns the keyset of a token encodeCursor issued for the same
// list, or ErrInvalidCursor for any other string.
func (s *sqlStore) decodeCursor(c, namespace, column, value string) (int64, string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(raw) <= cursorMACBytes {
		return 0, "", history.ErrInvalidCursor
	}
	mac, keyset := raw[:cursorMACBytes], raw[cursorMACBytes:]
	if !hmac.Equal(mac, s.cursorMAC(namespace, column, value, keyset)) {
		return 0, "", history.ErrInvalidCursor
	}
	// Signed by this store, so well formed; checked anyway, so that a token
	// can never put bytes PostgreSQL refuses (NUL, invalid UTF-8) in a query.
	msText, uid, ok := strings.Cut(string(keyset), "|")
	if !ok || uid == "" || len(uid) > 64 || !utf8.ValidString(uid) || strings.ContainsRune(uid, 0) {
		return 0, "", history.ErrInvalidCursor
	}
	ms, err := strconv.ParseInt(msText, 10, 64)
	if err != nil {
		return 0, "", history.ErrInvalidCursor
	}
	return ms, uid, nil
}

// cursorMAC authenticates keyset for the list of runs in namespace where
// column = value; each field is length-prefixed, so no two lists share an input.
func (s *sqlStore) cursorMAC(namespace, column, value string, keyset []byte) []byte {
	h := hmac.New(sha256.New, s.cursorKey)
	for _, field := range [][]byte{[]byte(namespace), []byte(column), []byte(value), keyset} {
		_, _ = h.Write(binary.AppendUvarint(nil, uint64(len(field))))
		_, _ = h.Write(field)
	}
	return h.Sum(nil)[:cursorMACBytes]
}

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func millisPtr(t *time.Time) int64 {
	if t == nil {
		return 0
	}
	return millis(*t)
}

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func rate(part, whole int64) float64 {
	if whole == 0 {
		return 0
	}
	return float64(part) / float64(whole)
}
