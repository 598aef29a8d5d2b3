// Package intake is crmflow's CloudEvents receiver. It accepts events over
// HTTP (binary, structured and batched modes of CloudEvents 1.0) at
// POST /v1/namespaces/<namespace>/events, matches them against the Active
// Workflows of that namespace that listen to the event's type, enrolls
// subjects by creating WorkflowRuns, delivers the event to runs of the same
// subject that wait for it, and answers 2xx only once every resulting write
// is persisted in the API server.
//
// The package is split by concern:
//
//   - request/   parsing, credentials and size limits (no Kubernetes; fuzzed)
//   - receiver.go  the HTTP handler: route, authenticate, decode, answer
//   - catalogue.go the in-memory index of Workflows by event type
//   - enroll.go     the per-workflow decision: state, loop, subject, conditions,
//     and the enrollment policy over the subject's runs (the run controller
//     applies it again, which makes it hold across replicas)
//   - recent.go    the runs this receiver just created, until the cache shows them
//   - listening.go the same for runs that listen after enrolling, for delivery
//   - keylock.go   the per-(workflow, subject) lock within this process
//   - datefield.go rescheduling and dropping of date-triggered runs
//   - correlate.go delivery to waiting runs (spec.inbox)
//   - skips.go     coalesced skip counters on Workflow status and rate-limited Events
//
// See docs/intake.md for the endpoint, its headers and answers.
package intake
