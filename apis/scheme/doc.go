// Package scheme owns the registration of all of fleetgate's API groups (cluster.karmada.io/v1alpha1,
// policy.karmada.io/v1alpha1, work.karmada.io/v1alpha2) with a runtime.Scheme, so that callers add
// them in one call. It keeps no scheme of its own: callers pass theirs.
package scheme
