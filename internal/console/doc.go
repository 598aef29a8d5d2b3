// Package console serves crmflow's web console: a JSON API over Workflows and
// WorkflowRuns plus the single-page app built from web/console and embedded
// here (dist/, produced by `make console`; never committed).
//
// The console holds no rights of its own. It is served two ways:
//
//   - locally by `kubectl crmflow ui`, on 127.0.0.1, with the identity of the
//     user's kubeconfig (NewLocal);
//   - in-cluster by the manager (--console-bind-address), where every
//     Kubernetes call carries the signed-in person's own bearer token and
//     nothing else (NewPassThrough): the manager's ServiceAccount is never used.
//
// Every API call but session, login and logout needs the caller's identity
// (in-cluster, a token the API server accepts; see Server.routes), and
// namespace and name path segments must be valid Kubernetes names.
//
// Every mutating call needs the CSRF token the session endpoint hands out
// (double submit: an HttpOnly SameSite=Strict cookie and an X-CSRF-Token
// header that must match), pages carry a strict Content-Security-Policy, and
// tokens never travel in a URL.
package console
