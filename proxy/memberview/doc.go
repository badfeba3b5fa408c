// Package memberview serves the gateway's merged views of member-native objects (pods, nodes,
// ReplicaSets, …) that live in the members, not in the host: a LIST or WATCH fans out to the
// members and merges their answers (items annotated with the cluster they came from, a CLUSTER
// column first in tables, composite resourceVersions and continue tokens that stay opaque to
// clients), a GET or a subresource by name goes to the member that owns the name, and writes by name
// go to that member unless the host holds a template of that name.
//
// It reaches members only through Clusters (as the caller: each member's RBAC decides) and never
// writes to the host; it does not decide who may use the cluster proxy (package proxy does).
package memberview
