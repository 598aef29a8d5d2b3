package enrollment

import (
	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/runner"
)

// Counts reports whether run takes part in its subject's enrollment policy:
// dry runs, runs being deleted and runs the policy already refused do not.
func Counts(run *v1alpha1.WorkflowRun) bool {
	return !run.Spec.DryRun && run.DeletionTimestamp.IsZero() && run.Status.Result != v1alpha1.ReasonNotAdmitted
}

// Candidate is run as runner.Admit sees it.
func Candidate(run *v1alpha1.WorkflowRun) runner.Candidate {
	return runner.Candidate{Name: run.Name, Created: run.CreationTimestamp.Time, Version: run.ResourceVersion,
		Started: run.Status.Phase != "", Finished: run.Status.Phase.IsFinished()}
}

// Candidates is the policy's view of a subject's runs: those that count.
func Candidates(runs []v1alpha1.WorkflowRun) []runner.Candidate {
	out := make([]runner.Candidate, 0, len(runs))
	for i := range runs {
		if Counts(&runs[i]) {
			out = append(out, Candidate(&runs[i]))
		}
	}
	return out
}
