// Package placement owns scheduling: given a policy's Placement, the member clusters and a
// workload's replicas and per-replica requests, it picks the target clusters (cluster affinity or
// ordered affinity groups, taints and tolerations, readiness, spread constraints) and divides the
// replicas among them (Duplicated, Weighted by static or dynamic weights, Aggregated), reporting
// per cluster why it was left out. It also reads replicas and requests from a workload template.
// Whether an affinity selects a cluster is propagate/selector's answer.
//
// It is pure: no apiserver, no clock, no randomness; the same input always gives the same result.
// It does not decide which policy applies (propagate/claim does), does not write bindings and does
// not talk to member clusters.
package placement
