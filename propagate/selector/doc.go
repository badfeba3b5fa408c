// Package selector owns the two matchers every policy shares: whether a ResourceSelector selects
// an object (and how specifically: by name, by labels or by matching everything), and whether a
// ClusterAffinity selects a member cluster. The propagation scheduler and the override engine
// both use them, so that "selects" means one thing everywhere.
//
// It does not order or pick policies (its callers do) and reads nothing but its arguments.
package selector
