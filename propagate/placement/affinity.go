package placement

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	"github.com/fleetgate/fleetgate/propagate/selector"
)

// affinityMismatch returns "" when a selects c (selector.ClusterMatches), otherwise the reason it
// does not, naming the filter (prefixed with path, e.g. "clusterAffinity"). To name it, each
// filter is asked on its own, through the same shared matcher.
func affinityMismatch(c *clusterv1alpha1.Cluster, a *policyv1alpha1.ClusterAffinity, path string) string {
	if selector.ClusterMatches(c, a) {
		return ""
	}
	if !selector.ClusterMatches(c, &policyv1alpha1.ClusterAffinity{ExcludeClusters: a.ExcludeClusters}) {
		return path + ".exclude lists it"
	}
	if !selector.ClusterMatches(c, &policyv1alpha1.ClusterAffinity{ClusterNames: a.ClusterNames}) {
		return "not in " + path + ".clusterNames"
	}
	if !selector.ClusterMatches(c, &policyv1alpha1.ClusterAffinity{LabelSelector: a.LabelSelector}) {
		sel, err := metav1.LabelSelectorAsSelector(a.LabelSelector)
		if err != nil {
			return fmt.Sprintf("%s.labelSelector is invalid: %v", path, err)
		}
		return fmt.Sprintf("labels do not match %s.labelSelector %q", path, sel.String())
	}
	if fs := a.FieldSelector; fs != nil {
		for i, r := range fs.MatchExpressions {
			one := &policyv1alpha1.FieldSelector{MatchExpressions: []corev1.NodeSelectorRequirement{r}}
			if !selector.ClusterMatches(c, &policyv1alpha1.ClusterAffinity{FieldSelector: one}) {
				return fmt.Sprintf("%s %v does not match %s.fieldSelector.matchExpressions[%d] (%s %s %v)",
					r.Key, fieldValues(c, r.Key), path, i, r.Key, r.Operator, r.Values)
			}
		}
	}
	return "not selected by " + path
}

// fieldValues are the values of a Cluster field usable in fieldSelectors and spreadByField:
// spec.provider, spec.region, or the zones (spec.zones, or the deprecated spec.zone when
// spec.zones is empty), as selector.ClusterMatches reads them. Empty fields have no value.
func fieldValues(c *clusterv1alpha1.Cluster, key string) []string {
	var v string
	switch key {
	case clusterv1alpha1.ProviderField:
		v = c.Spec.Provider
	case clusterv1alpha1.RegionField:
		v = c.Spec.Region
	case clusterv1alpha1.ZoneField:
		if len(c.Spec.Zones) > 0 {
			return c.Spec.Zones
		}
		v = c.Spec.Zone //nolint:staticcheck // the deprecated field still counts
	}
	if v == "" {
		return []string{}
	}
	return []string{v}
}

// effectiveTaints are c's taints plus the ones its state implies but that may not be written
// yet: cluster.karmada.io/not-ready:NoSchedule while the Ready condition is not True, and
// cluster.karmada.io/terminating:NoExecute while the Cluster is being deleted.
func effectiveTaints(c *clusterv1alpha1.Cluster) []corev1.Taint {
	taints := c.Spec.Taints
	implied := func(key string, effect corev1.TaintEffect) {
		if !slices.ContainsFunc(taints, func(t corev1.Taint) bool { return t.Key == key && t.Effect == effect }) {
			taints = append(slices.Clip(taints), corev1.Taint{Key: key, Effect: effect})
		}
	}
	if !clusterv1alpha1.IsReady(c) {
		implied(clusterv1alpha1.TaintClusterNotReady, corev1.TaintEffectNoSchedule)
	}
	if c.DeletionTimestamp != nil {
		implied(clusterv1alpha1.TaintClusterTerminating, corev1.TaintEffectNoExecute)
	}
	return taints
}

// taintMismatch returns "" when tolerations let the object be on c, otherwise the untolerated
// taints. A NoSchedule taint only keeps new placements off: a cluster the object is already
// placed on (placed) stays. A NoExecute taint applies to both. PreferNoSchedule is ignored.
func taintMismatch(c *clusterv1alpha1.Cluster, tolerations []corev1.Toleration, placed bool) string {
	var untolerated []string
	for _, t := range effectiveTaints(c) {
		switch t.Effect {
		case corev1.TaintEffectNoExecute:
		case corev1.TaintEffectNoSchedule:
			if placed {
				continue
			}
		default:
			continue
		}
		if !tolerated(&t, tolerations) {
			untolerated = append(untolerated, t.ToString())
		}
	}
	if len(untolerated) == 0 {
		return ""
	}
	return "untolerated taint " + strings.Join(untolerated, ", ")
}

func tolerated(t *corev1.Taint, tolerations []corev1.Toleration) bool {
	for i := range tolerations {
		if tolerates(&tolerations[i], t) {
			return true
		}
	}
	return false
}

// tolerates is corev1.Toleration.ToleratesTaint without the numeric operators Lt and Gt, which
// Karmada's clusterTolerations do not have (validation rejects them).
func tolerates(tol *corev1.Toleration, t *corev1.Taint) bool {
	if tol.Effect != "" && tol.Effect != t.Effect {
		return false
	}
	if tol.Key != "" && tol.Key != t.Key {
		return false
	}
	switch tol.Operator {
	case "", corev1.TolerationOpEqual:
		return tol.Value == t.Value
	case corev1.TolerationOpExists:
		return true
	default:
		return false
	}
}
