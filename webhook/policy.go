package webhook

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/fleetgate/fleetgate/apis/client"
	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	"github.com/fleetgate/fleetgate/apis/policy/v1alpha1/validation"
)

// policy validates fleetgate's policy kinds with Karmada's rules and rejects with field paths.
// (Defaulting happens in the host, through the mutating webhook of package admission, so that
// policies written straight to the host get the same defaults.)
type policy struct{ handlesWrites }

var _ ValidationInterface = policy{}

func (policy) Validate(_ context.Context, a *Attributes) error {
	if a.Resolved == nil || a.Resolved.GroupVersionKind().GroupVersion() != policyv1alpha1.GroupVersion {
		return nil
	}
	errs, err := ValidatePolicy(a.Resolved)
	if err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(policyv1alpha1.Kind(a.Resolved.GetKind()), a.Resolved.GetName(), errs)
	}
	return nil
}

// ValidatePolicy validates a policy object by its kind; other kinds pass.
func ValidatePolicy(obj *unstructured.Unstructured) (field.ErrorList, error) {
	switch obj.GetKind() {
	case "PropagationPolicy":
		p, err := client.FromUnstructured[policyv1alpha1.PropagationPolicy](obj)
		if err != nil {
			return nil, err
		}
		return validation.ValidatePropagationPolicy(p), nil
	case "ClusterPropagationPolicy":
		p, err := client.FromUnstructured[policyv1alpha1.ClusterPropagationPolicy](obj)
		if err != nil {
			return nil, err
		}
		return validation.ValidateClusterPropagationPolicy(p), nil
	case "OverridePolicy":
		p, err := client.FromUnstructured[policyv1alpha1.OverridePolicy](obj)
		if err != nil {
			return nil, err
		}
		return validation.ValidateOverridePolicy(p), nil
	case "ClusterOverridePolicy":
		p, err := client.FromUnstructured[policyv1alpha1.ClusterOverridePolicy](obj)
		if err != nil {
			return nil, err
		}
		return validation.ValidateClusterOverridePolicy(p), nil
	}
	return nil, nil
}
