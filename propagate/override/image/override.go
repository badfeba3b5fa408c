package image

import (
	"fmt"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
)

// Override changes one component of the image reference ref as an imageOverrider says: add
// appends value to the component as a string, replace sets it, remove clears it. For the Tag
// component a value that is a digest (e.g. sha256:…) becomes the digest and drops the tag. The
// result must be a valid reference again; otherwise Override returns an error and no image.
func Override(ref string, component policyv1alpha1.ImageComponent, op policyv1alpha1.OverriderOperator, value string) (string, error) {
	r, err := Parse(ref)
	if err != nil {
		return "", err
	}
	if err := r.Override(component, op, value); err != nil {
		return "", err
	}
	out := r.String()
	if _, err := parse(out); err != nil {
		return "", fmt.Errorf("%s %s %q turns %q into %q: %w", op, component, value, ref, out, err)
	}
	return out, nil
}

// Override changes one component of r in place; see the package function Override. It does not
// check that the result is a valid reference.
func (r *Reference) Override(component policyv1alpha1.ImageComponent, op policyv1alpha1.OverriderOperator, value string) error {
	var cur *string
	switch component {
	case policyv1alpha1.Registry:
		cur = &r.Registry
	case policyv1alpha1.Repository:
		cur = &r.Repository
	case policyv1alpha1.Tag:
		switch op {
		case policyv1alpha1.OverriderOpAdd:
			return r.SetTagOrDigest(r.TagOrDigest() + value)
		case policyv1alpha1.OverriderOpReplace:
			return r.SetTagOrDigest(value)
		case policyv1alpha1.OverriderOpRemove:
			return r.SetTagOrDigest("")
		}
		return fmt.Errorf("unsupported operator %q", op)
	default:
		return fmt.Errorf("unsupported component %q", component)
	}
	switch op {
	case policyv1alpha1.OverriderOpAdd:
		*cur += value
	case policyv1alpha1.OverriderOpReplace:
		*cur = value
	case policyv1alpha1.OverriderOpRemove:
		*cur = ""
	default:
		return fmt.Errorf("unsupported operator %q", op)
	}
	return nil
}
