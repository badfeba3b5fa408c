// Package status owns the aggregation of member copies' status into a template's status, one rule
// per kind as in Karmada's default resource interpreter (../shared/KARMADA-COMPAT.md, "Status
// aggregation"): sums of workload counters, the template's observedGeneration only once every
// member observed its current copy, conditions that hold only when they hold everywhere, unions of
// load-balancer ingress, the worst phase of pods and claims.
//
// It is a pure function of its inputs: it does not read members (the reconciler's member watches
// do), and does not write the host.
package status
