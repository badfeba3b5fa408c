package v1alpha1

import "k8s.io/apimachinery/pkg/api/meta"

// IsReady reports whether a Cluster's Ready condition is True (a nil Cluster is not ready).
func IsReady(c *Cluster) bool {
	return c != nil && meta.IsStatusConditionTrue(c.Status.Conditions, ClusterConditionReady)
}
