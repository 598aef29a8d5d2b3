package sqlstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/internal/history"
	"github.com/crmflow/crmflow/internal/history/sqlstore"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

// run builds a finished run record with option functions.
func run(uid string, opts ...func(*history.Run)) history.Run {
	r := history.Run{
		UID: uid, Namespace: "sales", Name: "vip-" + uid, Workflow: "vip-routing", Subject: "c-1",
		EventSource: "crm", EventID: "ev-" + uid, EventType: "conversation.started",
		Event: []byte(`{"id":"ev-` + uid + `","source":"crm","type":"conversation.started"}`),
		Phase: string(v1alpha1.RunSucceeded), Result: v1alpha1.ReasonCompleted.String(),
		Created: t0, Started: t0, Finished: t0.Add(time.Second),
		Conditions: []v1alpha1.ConditionResult{{Name: "vip", Result: true, Message: "contact is VIP"}},
		Steps: []v1alpha1.StepStatus{
			{Name: "notify", Phase: v1alpha1.StepSucceeded, Attempts: 1},
			{Name: "tag", Phase: v1alpha1.StepSkipped},
		},
	}
	for _, o := range opts {
		o(&r)
	}
	return r
}

func at(t time.Time) func(*history.Run) {
	return func(r *history.Run) { r.Created, r.Started, r.Finished = t, t, t.Add(time.Second) }
}
func subject(s string) func(*history.Run)  { return func(r *history.Run) { r.Subject = s } }
func workflow(w string) func(*history.Run) { return func(r *history.Run) { r.Workflow = w } }
func phase(p v1alpha1.RunPhase, result v1alpha1.ConditionReason) func(*history.Run) {
	return func(r *history.Run) { r.Phase, r.Result = string(p), result.String() }
}

func TestArchiveIsIdempotentOnUID(t *testing.T) {
	eachStore(t, sqlstore.Options{}, func(t *testing.T, s history.Store) {
		g := NewWithT(t)
		ctx := t.Context()
		g.Expect(s.Archive(ctx, []history.Run{run("a"), run("b")})).To(Succeed())
		// The batch retried after a crash, with one new run in it.
		g.Expect(s.Archive(ctx, []history.Run{run("b"), run("a"), run("c")})).To(Succeed())
		page, err := s.ListRuns(ctx, history.RunQuery{Namespace: "sales", Workflow: "vip-routing"})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(page.Runs).To(HaveLen(3))
		stats, err := s.Analytics(ctx, "sales", "vip-routing", t0.Add(-time.Hour), t0.Add(time.Hour))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(stats.Total.Enrolled).To(BeEquivalentTo(3), "rollups count each UID once")
		g.Expect(stats.Total.Steps).To(ContainElement(history.StepStats{Name: "notify", Reached: 3, Succeeded: 3}))

		got, err := s.GetRun(ctx, "sales", "vip-a")
		g.Expect(err).NotTo(HaveOccurred())
		want := run("a")
		g.Expect(got.Steps).To(Equal(want.Steps))
		g.Expect(got.Conditions).To(Equal(want.Conditions))
		g.Expect(got.Created).To(Equal(want.Created))
		g.Expect(string(got.Event)).To(MatchJSON(want.Event))
		_, err = s.GetRun(ctx, "sales", "missing")
		g.Expect(err).To(MatchError(history.ErrNotFound))
	})
}

func TestHasEvent(t *testing.T) {
	eachStore(t, sqlstore.Options{}, func(t *testing.T, s history.Store) {
		g := NewWithT(t)
		ctx := t.Context()
		g.Expect(s.Archive(ctx, []history.Run{run("a")})).To(Succeed())
		for _, c := range []struct {
			ns, wf, src, id string
			want            bool
		}{
			{"sales", "vip-routing", "crm", "ev-a", true},
			{"sales", "vip-routing", "crm", "ev-b", false},
			{"sales", "vip-routing", "other", "ev-a", false},
			{"sales", "lead-follow-up", "crm", "ev-a", false},
			{"support", "vip-routing", "crm", "ev-a", false},
		} {
			got, err := s.HasEvent(ctx, c.ns, c.wf, c.src, c.id)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(Equal(c.want), "%+v", c)
		}
		// A later run of the same event (past the deduplication window) is still archived.
		g.Expect(s.Archive(ctx, []history.Run{run("a2", func(r *history.Run) { r.EventID = "ev-a" })})).To(Succeed())
		page, err := s.ListRuns(ctx, history.RunQuery{Namespace: "sales", Workflow: "vip-routing"})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(page.Runs).To(HaveLen(2))
	})
}

func TestPagination(t *testing.T) {
	eachStore(t, sqlstore.Options{}, func(t *testing.T, s history.Store) {
		g := NewWithT(t)
		ctx := t.Context()
		var runs []history.Run
		for i := range 25 {
			// Pairs share a creation time so the keyset's UID tiebreak matters.
			runs = append(runs, run(fmt.Sprintf("r%02d", i), at(t0.Add(time.Duration(i/2)*time.Minute))))
		}
		g.Expect(s.Archive(ctx, runs)).To(Succeed())
		var seen []string
		cursor := ""
		for pages := 0; ; pages++ {
			g.Expect(pages).To(BeNumerically("<", 10))
			page, err := s.ListRuns(ctx, history.RunQuery{Namespace: "sales", Workflow: "vip-routing", Limit: 7, Cursor: cursor})
			g.Expect(err).NotTo(HaveOccurred())
			for _, r := range page.Runs {
				seen = append(seen, r.UID)
			}
			if page.Next == "" {
				break
			}
			cursor = page.Next
		}
		g.Expect(seen).To(HaveLen(25))
		g.Expect(seen[0]).To(Equal("r24"))
		g.Expect(seen[24]).To(Equal("r00"))
		g.Expect(seen).To(ConsistOf(func() []any {
			var all []any
			for _, r := range runs {
				all = append(all, r.UID)
			}
			return all
		}()...))

		_, err := s.ListRuns(ctx, history.RunQuery{Namespace: "sales", Workflow: "vip-routing", Cursor: "'; DROP TABLE runs; --"})
		g.Expect(err).To(MatchError(history.ErrInvalidCursor))
		page, err := s.ListRuns(ctx, history.RunQuery{Namespace: "sales", Workflow: "vip-routing", Limit: 1 << 30})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(page.Runs).To(HaveLen(25), "a huge limit is capped, not an error in the store")
	})
}

func TestQueries(t *testing.T) {
	eachStore(t, sqlstore.Options{}, func(t *testing.T, s history.Store) {
		g := NewWithT(t)
		ctx := t.Context()
		g.Expect(s.Archive(ctx, []history.Run{
			run("1", subject("c-42"), at(t0)),
			run("2", subject("c-42"), at(t0.Add(24*time.Hour)), workflow("lead-follow-up"), phase(v1alpha1.RunFailed, v1alpha1.ReasonStepFailed)),
			run("3", subject("c-7"), at(t0.Add(2*time.Hour)), phase(v1alpha1.RunSucceeded, v1alpha1.ReasonGoalReached)),
			run("4", subject("c-42"), at(t0.Add(3*time.Hour)), func(r *history.Run) { r.Namespace = "support" }),
			run("5", subject("x' OR '1'='1"), at(t0.Add(4*time.Hour)), phase(v1alpha1.RunCancelled, v1alpha1.ReasonCancelled)),
		})).To(Succeed())

		uids := func(p history.RunPage, err error) []string {
			g.Expect(err).NotTo(HaveOccurred())
			var out []string
			for _, r := range p.Runs {
				out = append(out, r.UID)
			}
			return out
		}
		g.Expect(uids(s.Timeline(ctx, history.RunQuery{Namespace: "sales", Subject: "c-42"}))).To(Equal([]string{"2", "1"}))
		g.Expect(uids(s.Timeline(ctx, history.RunQuery{Namespace: "sales", Subject: "x' OR '1'='1"}))).To(Equal([]string{"5"}))
		g.Expect(uids(s.Timeline(ctx, history.RunQuery{Namespace: "sales", Subject: "c-%"}))).To(BeEmpty())
		g.Expect(uids(s.ListRuns(ctx, history.RunQuery{Namespace: "sales", Workflow: "vip-routing"}))).To(Equal([]string{"5", "3", "1"}))
		g.Expect(uids(s.ListRuns(ctx, history.RunQuery{Namespace: "sales", Workflow: "vip-routing", Phase: "Cancelled"}))).To(Equal([]string{"5"}))
		g.Expect(uids(s.ListRuns(ctx, history.RunQuery{Namespace: "sales", Workflow: "vip-routing", Subject: "c-7"}))).To(Equal([]string{"3"}))
		g.Expect(uids(s.ListRuns(ctx, history.RunQuery{Namespace: "sales", Workflow: "vip-routing",
			From: t0.Add(time.Hour), To: t0.Add(3 * time.Hour)}))).To(Equal([]string{"3"}))

		stats, err := s.Analytics(ctx, "sales", "vip-routing", t0.Add(-24*time.Hour), t0.Add(48*time.Hour))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(stats.Days).To(HaveLen(1))
		day := stats.Days[0]
		g.Expect(day.Day).To(Equal("2026-11-02"))
		g.Expect([]int64{day.Enrolled, day.Completed, day.Failed, day.Cancelled, day.GoalReached}).To(Equal([]int64{3, 2, 0, 1, 1}))
		g.Expect(day.ConversionRate).To(BeNumerically("~", 1.0/3))
		g.Expect(day.Steps).To(ConsistOf(
			history.StepStats{Name: "notify", Reached: 3, Succeeded: 3},
			history.StepStats{Name: "tag", Reached: 3, Skipped: 3}))
		lead, err := s.Analytics(ctx, "sales", "lead-follow-up", t0, t0.Add(48*time.Hour))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(lead.Total.Failed).To(BeEquivalentTo(1))
	})
}

func TestSkipsAreCappedPerWorkflowPerMinute(t *testing.T) {
	eachStore(t, sqlstore.Options{SkipsPerMinute: 5}, func(t *testing.T, s history.Store) {
		g := NewWithT(t)
		ctx := t.Context()
		var flood []history.Skip
		for i := range 8 {
			flood = append(flood, history.Skip{Namespace: "sales", Workflow: "vip-routing", Reason: "ConditionsNotMet",
				EventID: fmt.Sprintf("e%d", i), EventSource: "crm", Subject: "c-42", Message: "contact is not VIP", Time: t0})
		}
		kept, err := s.RecordSkips(ctx, flood[:3])
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(kept).To(Equal(3))
		kept, err = s.RecordSkips(ctx, flood[3:])
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(kept).To(Equal(2), "the cap spans calls within the minute")
		// Another workflow and the next minute have their own room.
		kept, err = s.RecordSkips(ctx, []history.Skip{
			{Namespace: "sales", Workflow: "lead-follow-up", Reason: "Paused", EventID: "e1", Time: t0},
			{Namespace: "sales", Workflow: "vip-routing", Reason: "Paused", EventID: "late", Subject: "c-42", Time: t0.Add(time.Minute)},
		})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(kept).To(Equal(2))

		why, err := s.Skips(ctx, history.SkipQuery{Namespace: "sales", EventID: "e1"})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(why).To(HaveLen(2))
		bySubject, err := s.Skips(ctx, history.SkipQuery{Namespace: "sales", Subject: "c-42", Workflow: "vip-routing"})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(bySubject).To(HaveLen(6))
		g.Expect(bySubject[0].EventID).To(Equal("late"))
		g.Expect(bySubject[1].Message).To(Equal("contact is not VIP"))
	})
}

func TestPruneEnforcesRetentionAndSize(t *testing.T) {
	eachStore(t, sqlstore.Options{}, func(t *testing.T, s history.Store) {
		g := NewWithT(t)
		ctx := t.Context()
		now := t0.Add(100 * 24 * time.Hour)
		var runs []history.Run
		for i := range 10 {
			// Two runs older than 90 days, eight within.
			runs = append(runs, run(fmt.Sprintf("r%d", i), at(t0.Add(time.Duration(i)*5*24*time.Hour))))
		}
		g.Expect(s.Archive(ctx, runs)).To(Succeed())
		_, err := s.RecordSkips(ctx, []history.Skip{{Namespace: "sales", Workflow: "vip-routing", Reason: "Paused", EventID: "old", Time: t0}})
		g.Expect(err).NotTo(HaveOccurred())

		res, err := s.Prune(ctx, now, history.Bounds{})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(res).To(Equal(history.PruneResult{Runs: 2, Skips: 1, EventKeys: 2}))
		g.Expect(s.HasEvent(ctx, "sales", "vip-routing", "crm", "ev-r0")).To(BeFalse())
		g.Expect(s.HasEvent(ctx, "sales", "vip-routing", "crm", "ev-r2")).To(BeTrue())

		res, err = s.Prune(ctx, now, history.Bounds{MaxRuns: 5})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(res.Runs).To(BeEquivalentTo(3))
		page, err := s.ListRuns(ctx, history.RunQuery{Namespace: "sales", Workflow: "vip-routing"})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(page.Runs).To(HaveLen(5))
		g.Expect(page.Runs[4].UID).To(Equal("r5"), "the oldest go first")

		res, err = s.Prune(ctx, now, history.Bounds{MaxBytes: 1})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(res.Runs).To(BeEquivalentTo(5), "no run fits in one byte")
	})
}

func TestMigrationsApplyOnce(t *testing.T) {
	g := NewWithT(t)
	path := filepath.Join(t.TempDir(), "h.db")
	for range 2 {
		s, err := sqlstore.Open(context.Background(), path, sqlstore.Options{})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(s.Archive(t.Context(), []history.Run{run("a")})).To(Succeed())
		g.Expect(s.Close()).To(Succeed())
	}
}
