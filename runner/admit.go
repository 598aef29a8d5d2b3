package runner

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/resourceversion"

	"github.com/crmflow/crmflow/api/v1alpha1"
)

// Candidate is a run as the enrollment policy sees it: another run of the
// same workflow for the same subject, or the run asking to be admitted.
type Candidate struct {
	// Name of the run.
	Name string
	// Created is the run's creation time; with Name it orders runs that
	// were created but not yet admitted when their Versions do not.
	Created time.Time
	// Version is the run's resourceVersion as the caller saw it. Until a
	// run is admitted nothing but a rare inbox or cancel patch writes it, so
	// it is the run's place in the API server's storage order: the order in
	// which every cache sees runs appear. Empty when unknown (a run not yet
	// created).
	Version string
	// Started: the run was admitted (its status has a phase).
	Started bool
	// Finished: the run ended (Succeeded, Failed or Cancelled).
	Finished bool
}

// before orders candidates as the API server stored them: by resource
// version when both have one (Kubernetes 1.35 made resource versions of one
// resource comparable), else by creation second, then name.
//
// Storage order is what makes admission safe: a run admitted because its
// cache showed no other run was stored before every run it did not see, so
// those runs, comparing versions, find it older and wait for it. Creation
// second and name cannot promise that: two runs of the same second sort by
// name, not by which one a cache saw first.
func (c Candidate) before(o Candidate) bool {
	if c.Version != "" && o.Version != "" {
		if cmp, err := resourceversion.CompareResourceVersion(c.Version, o.Version); err == nil && cmp != 0 {
			return cmp < 0
		}
	}
	if !c.Created.Equal(o.Created) {
		return c.Created.Before(o.Created)
	}
	return c.Name < o.Name
}

// Verdict is what the enrollment policy decides for a new run.
type Verdict int

// Verdicts of Admit.
const (
	// Enroll: the run goes ahead.
	Enroll Verdict = iota
	// Skip: the run ends without acting; Admission.Reason says why.
	Skip
	// Wait: an older run of the subject is not admitted yet; decide again
	// once it is.
	Wait
	// Replace: cancel Admission.Replace, then go ahead.
	Replace
)

// Admission is the decision on one new run.
type Admission struct {
	Verdict Verdict
	// Reason says why when Verdict is Skip.
	Reason v1alpha1.SkipReason
	// Message says why, for people.
	Message string
	// Replace names the active runs to cancel when Verdict is Replace.
	Replace []string
}

// Admit applies a workflow's enrollment policy to a new run, given the other
// runs of the same workflow and subject that exist. It is a pure decision:
// the run controller, the one writer of run status, calls it when it first
// sees a run, so two receivers racing on two replicas cannot both enroll a
// subject that the policy allows only once. Runs not yet admitted are taken
// in creation order: the older one is decided first.
//
// reenroll: Never is decided here against the runs that still exist; the
// caller also keeps a durable record for subjects whose runs are gone.
func Admit(policy v1alpha1.EnrollmentPolicy, self Candidate, others []Candidate, subject string) Admission {
	p := policy.Defaulted()
	if p.Reenroll == v1alpha1.ReenrollAlways && p.Concurrency == v1alpha1.ConcurrencyAllow {
		return Admission{Verdict: Enroll}
	}
	var holders []string
	waitFor := ""
	for _, o := range others {
		switch {
		case o.Name == self.Name:
			continue
		case p.Reenroll == v1alpha1.ReenrollNever && (o.Started || o.before(self)):
			return Admission{Verdict: Skip, Reason: v1alpha1.SkipAlreadyEnrolled,
				Message: fmt.Sprintf("subject %q was enrolled before (run %s) and reenroll is Never", subject, o.Name)}
		case o.Finished:
			continue
		case o.Started:
			holders = append(holders, o.Name)
		case o.before(self) && waitFor == "":
			waitFor = o.Name
		}
	}
	if len(holders) == 0 {
		if waitFor != "" {
			return Admission{Verdict: Wait, Message: fmt.Sprintf("run %s for subject %q was created first and is not admitted yet", waitFor, subject)}
		}
		return Admission{Verdict: Enroll}
	}
	switch {
	case p.Concurrency == v1alpha1.ConcurrencyReplace:
		return Admission{Verdict: Replace, Replace: holders,
			Message: fmt.Sprintf("replaces active run(s) %v of subject %q (concurrency Replace)", holders, subject)}
	case p.Concurrency == v1alpha1.ConcurrencyAllow && p.Reenroll == v1alpha1.ReenrollAfterExit:
		return Admission{Verdict: Skip, Reason: v1alpha1.SkipAlreadyEnrolled,
			Message: fmt.Sprintf("subject %q is enrolled in run %s and reenroll is AfterExit", subject, holders[0])}
	case p.Concurrency == v1alpha1.ConcurrencyAllow:
		return Admission{Verdict: Enroll}
	}
	return Admission{Verdict: Skip, Reason: v1alpha1.SkipActiveRun,
		Message: fmt.Sprintf("subject %q has active run %s and concurrency is Forbid", subject, holders[0])}
}
