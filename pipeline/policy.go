package pipeline

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	"github.com/fleetgate/fleetgate/apis/policy/v1alpha1/validation"
)

// policy validates fleetgate's policy kinds with Karmada's rules and rejects with field paths.
// (Defaulting happens in the host, through the mutating webhook of package webhook, so that
// policies written straight to the host get the same defaults.)
type policy struct{ handlesWrites }

var _ ValidationInterface = policy{}

func (policy) Validate(_ context.Context, a *Attributes) error {
	if a.Resolved == nil || a.Resolved.GroupVersionKind().GroupVersion() != policyv1alpha1.GroupVersion {
		return nil
	}
	errs, err := validation.ValidateObject(a.Resolved)
	if err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(policyv1alpha1.Kind(a.Resolved.GetKind()), a.Resolved.GetName(), errs)
	}
	return nil
}
