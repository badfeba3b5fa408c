// Package cache owns the gateway's in-memory view of the host's fleetgate objects: informers for
// Clusters, PropagationPolicies, ClusterPropagationPolicies, OverridePolicies,
// ClusterOverridePolicies, ResourceBindings and ClusterResourceBindings, holding typed objects
// (converted once, when they arrive) and read by the write pipeline and the reconciler.
//
// It never writes to the host, and callers must not mutate what it returns (DeepCopy first).
package cache
