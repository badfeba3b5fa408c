// Package plan owns the pure decision of what a template becomes in the fleet: which policy claims
// it, which clusters get it with how many replicas, and the per-cluster object after overrides. The
// write pipeline (before the write is committed) and the reconciler (after) both call Compute, so
// they cannot disagree.
//
// It does no I/O: its inputs come from propagate/cache and its output is written by others.
package plan
