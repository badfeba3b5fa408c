package validation

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/fleetgate/fleetgate/apis/client"
	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
)

// ValidateObject validates a policy object by its kind, as the gateway's write pipeline and the
// host's admission webhook both do; other kinds pass. The error is for an object that does not
// decode into its kind.
func ValidateObject(obj *unstructured.Unstructured) (field.ErrorList, error) {
	switch obj.GetKind() {
	case "PropagationPolicy":
		p, err := client.FromUnstructured[policyv1alpha1.PropagationPolicy](obj)
		if err != nil {
			return nil, err
		}
		return ValidatePropagationPolicy(p), nil
	case "ClusterPropagationPolicy":
		p, err := client.FromUnstructured[policyv1alpha1.ClusterPropagationPolicy](obj)
		if err != nil {
			return nil, err
		}
		return ValidateClusterPropagationPolicy(p), nil
	case "OverridePolicy":
		p, err := client.FromUnstructured[policyv1alpha1.OverridePolicy](obj)
		if err != nil {
			return nil, err
		}
		return ValidateOverridePolicy(p), nil
	case "ClusterOverridePolicy":
		p, err := client.FromUnstructured[policyv1alpha1.ClusterOverridePolicy](obj)
		if err != nil {
			return nil, err
		}
		return ValidateClusterOverridePolicy(p), nil
	}
	return nil, nil
}
