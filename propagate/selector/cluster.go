package selector

import (
	"slices"

	corev1 "k8s.io/api/core/v1"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
)

// ClusterMatches reports whether affinity selects cluster. A nil or empty affinity selects every
// cluster. Excluded clusters are never selected; otherwise every non-empty filter must hold:
// clusterNames, labelSelector, and fieldSelector on provider, region and zone (zone matches any
// of spec.zones, or the deprecated spec.zone when spec.zones is empty). An invalid labelSelector
// or an unknown fieldSelector key or operator selects nothing. A nil cluster is selected only by
// a nil affinity.
func ClusterMatches(cluster *clusterv1alpha1.Cluster, affinity *policyv1alpha1.ClusterAffinity) bool {
	if affinity == nil {
		return true
	}
	if cluster == nil {
		return false
	}
	if slices.Contains(affinity.ExcludeClusters, cluster.Name) {
		return false
	}
	if len(affinity.ClusterNames) > 0 && !slices.Contains(affinity.ClusterNames, cluster.Name) {
		return false
	}
	if affinity.LabelSelector != nil && !LabelsMatch(affinity.LabelSelector, cluster.Labels) {
		return false
	}
	if affinity.FieldSelector != nil {
		for i := range affinity.FieldSelector.MatchExpressions {
			if !fieldMatches(cluster, &affinity.FieldSelector.MatchExpressions[i]) {
				return false
			}
		}
	}
	return true
}

// fieldMatches evaluates one fieldSelector requirement against the cluster's fields. A field
// that is empty is absent: In does not match it, NotIn does.
func fieldMatches(cluster *clusterv1alpha1.Cluster, req *corev1.NodeSelectorRequirement) bool {
	var values []string
	switch req.Key {
	case clusterv1alpha1.ProviderField:
		values = nonEmpty(cluster.Spec.Provider)
	case clusterv1alpha1.RegionField:
		values = nonEmpty(cluster.Spec.Region)
	case clusterv1alpha1.ZoneField:
		values = cluster.Spec.Zones
		if len(values) == 0 {
			values = nonEmpty(cluster.Spec.Zone) //nolint:staticcheck // the deprecated field still counts
		}
	default:
		return false
	}
	anyIn := false
	for _, v := range values {
		if slices.Contains(req.Values, v) {
			anyIn = true
			break
		}
	}
	switch req.Operator {
	case corev1.NodeSelectorOpIn:
		return anyIn
	case corev1.NodeSelectorOpNotIn:
		return !anyIn
	case corev1.NodeSelectorOpExists:
		return len(values) > 0
	case corev1.NodeSelectorOpDoesNotExist:
		return len(values) == 0
	}
	return false
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}
