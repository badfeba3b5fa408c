// Package v1alpha1 owns the Go types of the cluster.karmada.io/v1alpha1 API group: the Cluster
// object that records one member cluster (how to reach it, where it is, its taints) and the health
// the gateway observed for it, plus the well-known names (condition types, taint keys) that go with
// it. The field names and JSON names are Karmada's, so Karmada manifests apply unchanged.
//
// It does not contact clusters, compute health or hold credentials; propagate/ and bootstrap/ do
// that and write their findings into these types.
//
// +k8s:deepcopy-gen=package
// +groupName=cluster.karmada.io
package v1alpha1
