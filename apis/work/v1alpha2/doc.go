// Package v1alpha2 owns the Go types of the subset of Karmada's work.karmada.io/v1alpha2 API group
// that fleetgate uses: ResourceBinding (namespaced) and ClusterResourceBinding (cluster-scoped),
// one per propagated resource template, recording where it was scheduled (spec.clusters) and how
// each member copy is doing (status.aggregatedStatus, conditions Scheduled and FullyApplied).
//
// It does not create, schedule or update bindings; propagate/ does.
//
// +k8s:deepcopy-gen=package
// +groupName=work.karmada.io
package v1alpha2
