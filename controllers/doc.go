// Package controllers holds what crmflow's two reconcilers share: the
// manager's cache options, the run counters (the run reconciler counts
// enrollment skips, the Workflow reconciler writes them), the metrics, the
// Secret reader of the engine's actions, and the shape of a Reconcile:
// ordered phases over a per-pass scope (RunPhases), merged to the soonest
// requeue, a RequeuePolicy for waits measured on an injected clock, and a
// LogConstructor that keeps write conflicts, returned as errors for the
// workqueue's backoff, out of the error log.
//
// The reconcilers live in controllers/workflow and controllers/workflowrun.
// Both are thin shells around the engine (package runner) and the cron
// arithmetic (package runner/schedule): they translate between the API
// server and those pure packages and write status once per pass.
package controllers
