package override

import (
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
)

// applyPlaintext applies one RFC 6902 operation to obj.
func applyPlaintext(obj *unstructured.Unstructured, o *policyv1alpha1.PlaintextOverrider) error {
	p, err := parsePointer(o.Path)
	if err != nil {
		return err
	}
	var value any
	if o.Operator != policyv1alpha1.OverriderOpRemove {
		if value, err = objectValue(o.Value); err != nil {
			return err
		}
	}
	root, err := p.patch(obj.Object, o.Operator, value)
	if err != nil {
		return err
	}
	m, ok := root.(map[string]any)
	if !ok {
		return errors.New("the object must stay a JSON object")
	}
	obj.Object = m
	return nil
}

// objectValue decodes a value to put into an unstructured object: numbers become int64 or
// float64 as everywhere in unstructured objects.
func objectValue(v policyv1alpha1.JSON) (any, error) {
	if len(v.Raw) == 0 {
		return nil, errors.New("value is required for add and replace")
	}
	var out any
	if err := utiljson.Unmarshal(v.Raw, &out); err != nil {
		return nil, fmt.Errorf("value is not valid JSON: %w", err)
	}
	return out, nil
}
