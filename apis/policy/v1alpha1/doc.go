// Package v1alpha1 owns the Go types of the policy.karmada.io/v1alpha1 API group: PropagationPolicy
// and ClusterPropagationPolicy (which objects go to which clusters, with how many replicas) and
// OverridePolicy and ClusterOverridePolicy (how each cluster's copy differs), plus the well-known
// annotation keys that record which policy claimed an object and which overrides were applied. The
// field names and JSON names are Karmada's, so Karmada manifests apply unchanged.
//
// It does not match, schedule, default or validate policies, nor apply overriders; webhook/ and
// propagate/ do that. Defaults that the CRD schema can express (conflictResolution, preemption,
// priority, ...) are markers here and end up in the generated CRDs in apis/crds.
//
// +k8s:deepcopy-gen=package
// +groupName=policy.karmada.io
package v1alpha1
