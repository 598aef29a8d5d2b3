// Package request is intake's HTTP policy for one request: it reads the body
// under a size limit, checks the namespace credential (a bearer token or a
// fresh v1 signature), and decodes the events with the shared codec
// (runner/cloudevents). Every refusal is an *Error carrying the HTTP status
// to answer — the codec's refusal reasons become 400, 413 or 415 here — and
// a message that names the problem. The package knows nothing of Kubernetes,
// so it is fuzzed and table-tested on its own.
package request
