package validation

import (
	corev1 "k8s.io/api/core/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
)

// ValidateClusterAffinity validates a cluster affinity (nil is valid): its labelSelector must be a
// valid label selector, and its fieldSelector may only use the keys provider, region and zone
// with the operators In and NotIn.
func ValidateClusterAffinity(affinity *policyv1alpha1.ClusterAffinity, fldPath *field.Path) field.ErrorList {
	if affinity == nil {
		return nil
	}
	var errs field.ErrorList
	if affinity.LabelSelector != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(affinity.LabelSelector, metav1validation.LabelSelectorValidationOptions{}, fldPath.Child("labelSelector"))...)
	}
	if affinity.FieldSelector != nil {
		exprsPath := fldPath.Child("fieldSelector", "matchExpressions")
		for i, req := range affinity.FieldSelector.MatchExpressions {
			switch req.Key {
			case clusterv1alpha1.ProviderField, clusterv1alpha1.RegionField, clusterv1alpha1.ZoneField:
			default:
				errs = append(errs, field.NotSupported(exprsPath.Index(i).Child("key"), req.Key,
					[]string{clusterv1alpha1.ProviderField, clusterv1alpha1.RegionField, clusterv1alpha1.ZoneField}))
			}
			switch req.Operator {
			case corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn:
			default:
				errs = append(errs, field.NotSupported(exprsPath.Index(i).Child("operator"), req.Operator,
					[]corev1.NodeSelectorOperator{corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn}))
			}
		}
	}
	return errs
}
