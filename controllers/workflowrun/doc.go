// Package workflowrun holds the Reconciler, which drives one
// enrollment through its steps with the engine and waits by requeueing for
// the wakeAt it stored in status, and the RunCleaner, which removes finished
// runs from etcd a minute at a time.
//
// Files: controller.go (the Reconcile, its scope and phases), admit.go (the
// enrollment policy at a run's first pass), known.go (the resourceVersions
// that guard against a lagging cache), status.go (the one status write and
// the pure status setters), finished.go (retention, TTL and removeAfter),
// record.go (Events and metrics of a written pass), cleanup.go (RunCleaner).
package workflowrun
