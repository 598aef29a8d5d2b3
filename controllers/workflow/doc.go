// Package workflow holds the Reconciler: it compiles a Workflow into
// its Ready and Stalled conditions, records the revision of a valid spec and
// prunes unused ones, adds the run counts RunCounters gathered, deletes
// finished runs beyond the history limit when no archiver removes them, and
// creates the runs of a schedule trigger. One pass runs these as ordered
// phases over a scope and writes the status once, deferred, as a merge
// patch of what changed.
package workflow
