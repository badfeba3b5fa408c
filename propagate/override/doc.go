// Package override owns the per-cluster override engine: which ClusterOverridePolicies and
// OverridePolicies apply to an object in a cluster, in Karmada's order (Select), and what the
// object looks like after their rules ran (Apply), together with the record of what was applied
// that Karmada keeps in the annotations policy.karmada.io/applied-cluster-overrides and
// policy.karmada.io/applied-overrides.
//
// Everything here is a pure function of its arguments: it lists nothing, talks to no apiserver
// and never changes the objects and policies it is given. It does not set the replica count that
// scheduling decided (callers do that before Apply) and does not validate policies
// (apis/policy/v1alpha1/validation does; Apply still fails cleanly on anything invalid).
// Resource-selector and cluster-affinity matching come from propagate/selector; image
// references are parsed by the sub-package image.
package override
