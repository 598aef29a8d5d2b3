// Package servers holds the real in-process servers that crmflow's tests
// talk to instead of mocks: a recording HTTP server (CRM sink, notification
// hooks, webhooks, SMS gateways) and a recording SMTP server built on
// github.com/emersion/go-smtp, both listening on 127.0.0.1.
//
// Every request and message a server receives is kept, in arrival order,
// so that a test asserts on what the real server saw. Records carry a
// process-wide sequence number (Seq) so that a test can merge the logs of
// several servers into one ordered history.
package servers

import "sync/atomic"

// seq numbers every record of every server in this process, so that logs of
// different servers can be merged in arrival order.
var seq atomic.Uint64

func nextSeq() uint64 { return seq.Add(1) }
