// Package request turns an HTTP request into crmflow CloudEvents: it reads the
// body under a size limit, checks the namespace credential, and decodes the
// binary, structured and batched HTTP modes of CloudEvents 1.0 with the
// CloudEvents SDK. Every refusal is an *Error carrying the HTTP status and a
// message that names the problem. The package knows nothing of Kubernetes, so
// it is fuzzed and table-tested on its own.
package request
