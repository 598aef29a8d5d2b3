package sqlstore_test

import (
	"encoding/base64"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/crmflow/crmflow/internal/history"
	"github.com/crmflow/crmflow/internal/history/sqlstore"
)

// TestCursorsAreTamperEvident checks that a continue token is honoured only
// as the store issued it, for the query it was issued for: forged, altered
// or reused tokens are ErrInvalidCursor on every store (never a database
// error, e.g. PostgreSQL refusing a NUL byte), while a genuine token keeps
// working through a restart and on a second replica of the same store.
func TestCursorsAreTamperEvident(t *testing.T) {
	eachDSN(t, func(t *testing.T, dsn string) {
		g := NewWithT(t)
		ctx := t.Context()
		s, err := sqlstore.Open(ctx, dsn, sqlstore.Options{})
		g.Expect(err).NotTo(HaveOccurred())
		defer func() { _ = s.Close() }()
		g.Expect(s.Archive(ctx, []history.Run{run("a", subject("c-1")), run("b", subject("c-1")), run("c", subject("c-1"))})).To(Succeed())
		byWorkflow := history.RunQuery{Namespace: "sales", Workflow: "vip-routing", Limit: 1}
		page, err := s.ListRuns(ctx, byWorkflow)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(page.Next).NotTo(BeEmpty())
		genuine := page.Next

		forged := func(raw string) string { return base64.RawURLEncoding.EncodeToString([]byte(raw)) }
		altered := []byte(genuine)
		altered[len(altered)/2] ^= 1
		for what, cursor := range map[string]string{
			"a forged far-future keyset":  forged("9999999999999|zzzz"),
			"a forged SQL-looking keyset": forged("1|' OR 1=1--"),
			"a NUL byte (MXwA)":           "MXwA",
			"a NUL byte in the uid":       forged("1|a\x00b"),
			"invalid UTF-8":               forged("1|\xff\xfe"),
			"an altered genuine token":    string(altered),
			"a truncated genuine token":   genuine[:len(genuine)-2],
			"not base64":                  "'; DROP TABLE runs; --",
		} {
			q := byWorkflow
			q.Cursor = cursor
			_, err := s.ListRuns(ctx, q)
			g.Expect(err).To(MatchError(history.ErrInvalidCursor), what)
			_, err = s.Timeline(ctx, history.RunQuery{Namespace: "sales", Subject: "c-1", Cursor: cursor})
			g.Expect(err).To(MatchError(history.ErrInvalidCursor), what)
		}

		_, err = s.Timeline(ctx, history.RunQuery{Namespace: "sales", Subject: "c-1", Cursor: genuine})
		g.Expect(err).To(MatchError(history.ErrInvalidCursor), "a token of a workflow's runs does not continue a timeline")
		q := byWorkflow
		q.Namespace, q.Cursor = "other", genuine
		_, err = s.ListRuns(ctx, q)
		g.Expect(err).To(MatchError(history.ErrInvalidCursor), "nor another namespace's list")
		q = byWorkflow
		q.Workflow, q.Cursor = "other", genuine
		_, err = s.ListRuns(ctx, q)
		g.Expect(err).To(MatchError(history.ErrInvalidCursor), "nor another workflow's list")

		// Another replica (or this one restarted) honours the token.
		other, err := sqlstore.Open(ctx, dsn, sqlstore.Options{})
		g.Expect(err).NotTo(HaveOccurred())
		defer func() { _ = other.Close() }()
		q = byWorkflow
		q.Cursor = genuine
		next, err := other.ListRuns(ctx, q)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(next.Runs).To(HaveLen(1))
		g.Expect(next.Runs[0].UID).NotTo(Equal(page.Runs[0].UID))
	})
}
