// Package enrollment builds the WorkflowRun that enrolls a subject in a
// workflow, the same way for the three ways a run starts: an event, a
// dateField trigger and a schedule tick. It owns what a new run looks like
// to the rest of crmflow and to people: its name (derived from the event, or
// from the tick, so that a repeat collides with AlreadyExists), its labels
// (the ones selectors use: workflow, subject hash, trigger), its owner and
// its spec. It also gives the enrollment policy (runner.Admit) its view of
// the runs a subject already has.
//
// Everything here is pure: callers do the I/O (ensure the revision, list the
// subject's runs, create the run) around it.
package enrollment
