package runner

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

func TestAdmit(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	self := Candidate{Name: "run-b", Created: t0}
	active := Candidate{Name: "run-a", Created: t0.Add(-time.Minute), Started: true}
	finished := Candidate{Name: "run-a", Created: t0.Add(-time.Minute), Started: true, Finished: true}
	olderPending := Candidate{Name: "run-a", Created: t0.Add(-time.Second)}
	samePending := Candidate{Name: "run-a", Created: t0} // same second: the name decides
	newerPending := Candidate{Name: "run-c", Created: t0.Add(time.Second)}
	policy := func(r v1alpha1.ReenrollPolicy, c v1alpha1.ConcurrencyPolicy) v1alpha1.EnrollmentPolicy {
		return v1alpha1.EnrollmentPolicy{Reenroll: r, Concurrency: c}
	}
	cases := []struct {
		name    string
		policy  v1alpha1.EnrollmentPolicy
		others  []Candidate
		verdict Verdict
		reason  v1alpha1.SkipReason
		replace []string
	}{
		{"defaults, nobody else: enroll", v1alpha1.EnrollmentPolicy{}, nil, Enroll, "", nil},
		{"defaults, an active run: ActiveRun", v1alpha1.EnrollmentPolicy{}, []Candidate{active}, Skip, v1alpha1.SkipActiveRun, nil},
		{"defaults, a finished run: enroll again", v1alpha1.EnrollmentPolicy{}, []Candidate{finished}, Enroll, "", nil},
		{"defaults, an older run not admitted yet: wait", v1alpha1.EnrollmentPolicy{}, []Candidate{olderPending}, Wait, "", nil},
		{"defaults, same second, smaller name first: wait", v1alpha1.EnrollmentPolicy{}, []Candidate{samePending}, Wait, "", nil},
		{"defaults, a newer run not admitted yet: enroll first", v1alpha1.EnrollmentPolicy{}, []Candidate{newerPending}, Enroll, "", nil},
		{"defaults, an active run beside an older pending one: ActiveRun", v1alpha1.EnrollmentPolicy{}, []Candidate{olderPending, active}, Skip, v1alpha1.SkipActiveRun, nil},
		{"itself in the list is ignored", v1alpha1.EnrollmentPolicy{}, []Candidate{self}, Enroll, "", nil},
		{"Never, a finished run: AlreadyEnrolled", policy(v1alpha1.ReenrollNever, v1alpha1.ConcurrencyForbid), []Candidate{finished}, Skip, v1alpha1.SkipAlreadyEnrolled, nil},
		{"Never, an older pending run: AlreadyEnrolled", policy(v1alpha1.ReenrollNever, v1alpha1.ConcurrencyForbid), []Candidate{olderPending}, Skip, v1alpha1.SkipAlreadyEnrolled, nil},
		{"Never, a newer pending run: enroll", policy(v1alpha1.ReenrollNever, v1alpha1.ConcurrencyForbid), []Candidate{newerPending}, Enroll, "", nil},
		{"AfterExit+Allow, active: AlreadyEnrolled", policy(v1alpha1.ReenrollAfterExit, v1alpha1.ConcurrencyAllow), []Candidate{active}, Skip, v1alpha1.SkipAlreadyEnrolled, nil},
		{"Always+Forbid, active: ActiveRun", policy(v1alpha1.ReenrollAlways, v1alpha1.ConcurrencyForbid), []Candidate{active}, Skip, v1alpha1.SkipActiveRun, nil},
		{"Always+Allow, active: enroll beside it", policy(v1alpha1.ReenrollAlways, v1alpha1.ConcurrencyAllow), []Candidate{active, olderPending}, Enroll, "", nil},
		{"Replace, active: replace it", policy(v1alpha1.ReenrollAfterExit, v1alpha1.ConcurrencyReplace), []Candidate{active, finished}, Replace, "", []string{"run-a"}},
		{"Replace, only finished: enroll", policy(v1alpha1.ReenrollAlways, v1alpha1.ConcurrencyReplace), []Candidate{finished}, Enroll, "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			got := Admit(tc.policy, self, tc.others, "c-42")
			g.Expect(got.Verdict).To(Equal(tc.verdict), got.Message)
			g.Expect(got.Reason).To(Equal(tc.reason))
			g.Expect(got.Replace).To(Equal(tc.replace))
			if tc.verdict != Enroll {
				g.Expect(got.Message).To(ContainSubstring("c-42"))
			}
		})
	}
}

// Two runs of one subject created in the same second: "run-b" was stored
// first (resource version 100), so a cache that has it may not have "run-a"
// yet, and run-b is admitted on seeing nobody. run-a, stored later (105),
// must then wait for run-b although its name sorts first.
func TestAdmitTakesPendingRunsInStorageOrder(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	first := Candidate{Name: "run-b", Created: t0, Version: "100"}
	second := Candidate{Name: "run-a", Created: t0, Version: "105"}
	cases := []struct {
		name    string
		self    Candidate
		others  []Candidate
		verdict Verdict
	}{
		{"the run stored first, alone in its cache: enroll", first, nil, Enroll},
		{"the run stored first, seeing the later one: enroll", first, []Candidate{second}, Enroll},
		{"the run stored later, seeing the first one pending: wait, whatever the names", second, []Candidate{first}, Wait},
		{"versions that do not parse: creation second, then name", Candidate{Name: "run-a", Created: t0, Version: "x"}, []Candidate{{Name: "run-b", Created: t0, Version: "y"}}, Enroll},
		{"a run with no version yet (intake's new run): creation order", Candidate{Name: "run-a", Created: t0.Add(time.Hour)}, []Candidate{first}, Wait},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			got := Admit(v1alpha1.EnrollmentPolicy{}, tc.self, tc.others, "c-42")
			g.Expect(got.Verdict).To(Equal(tc.verdict), got.Message)
		})
	}
}
