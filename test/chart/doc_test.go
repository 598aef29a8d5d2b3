// Package chart tests the Helm chart charts/crmflow: helm lint and helm
// template with default and non-default values, the chart's CRDs, RBAC and
// webhook registrations against what the code generates, and an install into
// a real API server with RBAC on, where the manager runs as the chart's
// ServiceAccount through the three seed examples.
package chart
