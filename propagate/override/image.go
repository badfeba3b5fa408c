package override

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	"github.com/fleetgate/fleetgate/propagate/override/image"
)

// applyImage changes the image at the predicate's path, or without a predicate every
// containers[*].image of obj's pod spec (see podSpecPath).
func applyImage(obj *unstructured.Unstructured, o *policyv1alpha1.ImageOverrider) error {
	if o.Predicate != nil {
		p, err := parsePointer(o.Predicate.Path)
		if err != nil {
			return err
		}
		v, err := p.get(obj.Object)
		if err != nil {
			return err
		}
		ref, ok := v.(string)
		if !ok {
			return fmt.Errorf("path %q is not a string", p.raw)
		}
		out, err := image.Override(ref, o.Component, o.Operator, o.Value)
		if err != nil {
			return fmt.Errorf("path %q: %w", p.raw, err)
		}
		_, err = p.patch(obj.Object, policyv1alpha1.OverriderOpReplace, out)
		return err
	}
	list, ptr, err := containers(obj)
	if err != nil {
		return err
	}
	for i, c := range list {
		m, ok := c.(map[string]any)
		if !ok {
			return fmt.Errorf("%s/%d is not an object", ptr, i)
		}
		ref, ok := m["image"].(string)
		if !ok {
			return fmt.Errorf("%s/%d/image is not a string", ptr, i)
		}
		out, err := image.Override(ref, o.Component, o.Operator, o.Value)
		if err != nil {
			return fmt.Errorf("%s/%d/image: %w", ptr, i, err)
		}
		m["image"] = out
	}
	return nil
}
