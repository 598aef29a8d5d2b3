// Package controllers holds crmflow's reconcilers: the WorkflowRunReconciler,
// which drives one enrolment through its steps with the engine and waits by
// requeueing for the wakeAt it stored in status, and the WorkflowReconciler,
// which compiles a workflow, counts its runs, fires its schedule and prunes
// its history. Both are thin shells around the engine (package runner) and
// the cron arithmetic (package runner/schedule): they translate between the
// API server and those pure packages and write status in one place.
package controllers
