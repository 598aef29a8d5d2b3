// Package webhook holds crmflow's admission webhooks, served by the manager:
//
//   - a defaulter for Workflows, which writes the defaults a reader of the
//     stored object should see (state Draft, the retry policy, history bounds,
//     enrollment policy, time zones);
//   - a validator for Workflows, which compiles every CEL expression and
//     {{ }} template with the engine and reports each problem as a field error
//     with its exact path and position, checks Secret references, cron
//     expressions, time zones and durations, and answers with admission
//     warnings for likely loops and for steps that can never run;
//   - a validator for WorkflowRun creation, which checks the workflow
//     snapshot a hand-made (test) run carries the same way.
//
// The checks are pure functions of the spec (see validate.go, warnings.go and
// defaults.go); the webhook types only adapt them to controller-runtime.
package webhook
