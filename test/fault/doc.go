// Package fault is crmflow's crash-and-fault suite. It builds the manager
// binary, runs it against a real API server (envtest) with a real HTTP sink
// on 127.0.0.1 that records every side effect with its Idempotency-Key,
// enrolls a few hundred multi-step runs with short waits through the
// receiver, SIGKILLs the manager at seeded random moments and restarts it,
// then runs it with seeded fault injection on its API writes (timeouts,
// 503s, conflicts and timeouts after the write was applied). It checks that
// every run finished, every (run, step) side effect arrived at least once,
// and every repeat carried the same key. It uses only public behaviour:
// HTTP in, HTTP out, run status through the API.
package fault
