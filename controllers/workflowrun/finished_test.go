package workflowrun

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/internal/history/archiver"
	"github.com/crmflow/crmflow/test/fixture"
)

// TestTTLDue covers when a finished run without status.removeAfter may be deleted.
func TestTTLDue(t *testing.T) {
	ttl := func(d v1alpha1.Duration) *v1alpha1.WorkflowSpec {
		return &v1alpha1.WorkflowSpec{History: v1alpha1.HistoryPolicy{TTLAfterFinished: &d}}
	}
	cases := []struct {
		name string
		run  v1alpha1.WorkflowRun
		spec *v1alpha1.WorkflowSpec
		want time.Time
		err  string
	}{
		{name: "default TTL from completion", run: fixture.Run("r", t0, fixture.SetRunCompleted(t0.Add(time.Hour))), want: t0.Add(time.Hour + 7*24*time.Hour)},
		{name: "the revision's TTL", run: fixture.Run("r", t0, fixture.SetRunCompleted(t0.Add(time.Hour))), spec: ttl("2h"), want: t0.Add(3 * time.Hour)},
		{name: "no completion time: from creation", run: fixture.Run("r", t0, fixture.SetRunPhase(v1alpha1.RunFailed), fixture.SetRunCreated(t0.Add(time.Minute))), spec: ttl("1h"), want: t0.Add(61 * time.Minute)},
		{name: "an unreadable TTL names the field", run: fixture.Run("r", t0, fixture.SetRunCompleted(t0.Add(0))), spec: ttl("soon"), err: "spec.history.ttlAfterFinished"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			got, err := ttlDue(&tc.run, tc.spec)
			if tc.err != "" {
				g.Expect(err).To(MatchError(ContainSubstring(tc.err)))
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(Equal(tc.want))
		})
	}
}

func TestRetentionAndRemoveAfter(t *testing.T) {
	ttl := func(d v1alpha1.Duration) *v1alpha1.WorkflowSpec {
		return &v1alpha1.WorkflowSpec{History: v1alpha1.HistoryPolicy{TTLAfterFinished: &d}}
	}
	cases := []struct {
		name string
		r    *Reconciler
		spec *v1alpha1.WorkflowSpec
		want time.Duration
	}{
		{name: "no spec: the default TTL", r: &Reconciler{}, want: 7 * 24 * time.Hour},
		{name: "the revision's TTL", r: &Reconciler{}, spec: ttl("2h"), want: 2 * time.Hour},
		{name: "an unreadable TTL: the default", r: &Reconciler{}, spec: ttl("soon"), want: 7 * 24 * time.Hour},
		{name: "archived: the default grace, whatever the TTL", r: &Reconciler{FinishedRunsArchived: true}, spec: ttl("2h"), want: archiver.DefaultGrace},
		{name: "archived with a grace", r: &Reconciler{FinishedRunsArchived: true, ArchiveGrace: 30 * time.Second}, want: 30 * time.Second},
		{name: "a grace without an archiver is ignored", r: &Reconciler{ArchiveGrace: 30 * time.Second}, spec: ttl("1h"), want: time.Hour},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			NewWithT(t).Expect(tc.r.retention(tc.spec)).To(Equal(tc.want))
		})
	}

	g := NewWithT(t)
	run := fixture.Run("r", t0, fixture.SetRunCreated(t0.Add(-time.Hour)))
	done := metav1.NewTime(t0.Add(90 * time.Second))
	g.Expect(removeAfter(&run, &v1alpha1.WorkflowRunStatus{CompletionTime: &done}, time.Minute)).
		To(Equal(v1alpha1.RemoveAfterValue(t0.Add(150*time.Second))), "from the completion time")
	g.Expect(removeAfter(&run, &v1alpha1.WorkflowRunStatus{}, time.Minute)).
		To(Equal(v1alpha1.RemoveAfterValue(t0.Add(-59*time.Minute))), "no completion time: from creation")
}
