// Package cloudevents is crmflow's CloudEvents codec, shared by everything
// that sends or receives events over HTTP: intake (controllers/intake), the
// kubectl plugin's send, the outgoing commands of runner/actions, and the
// hack/ senders. It holds what must be spelled the same on both sides of the
// wire:
//
//   - the media types of the HTTP modes (binary, structured, batched);
//   - decoding the three modes into v1alpha1.CloudEvent with the CloudEvents
//     SDK, checking every attribute and the JSON data against the limits a
//     WorkflowRun can hold (Decode, ParseChain);
//   - encoding an event in binary mode (SetBinary for crmflow's API type,
//     WriteBinary for an SDK event);
//   - the v1 request signature: the canonical text, its HMAC-SHA256, and
//     signing a request (CanonicalRequest, Signature, Sign).
//
// It knows nothing of HTTP status codes, credentials or Kubernetes: a
// refusal is an *Error with a Reason, which intake maps to its status code.
// It is not internal: a CRM written in Go may sign its requests with Sign.
package cloudevents
