// Package propagate owns what happens to templates after they are stored: policy matching and
// claiming, placement and replica division, overrides, the reconciler that keeps member copies in
// line with the host, ResourceBinding bookkeeping, status aggregation, and member cluster health
// (sub-package clusterstatus).
//
// It does not serve client requests (proxy/ and webhook/ do) and it does not create member
// credentials (bootstrap/ does); it reaches members only through bootstrap/access.
package propagate
