package override

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
)

// applyStringMap changes metadata.labels or metadata.annotations (key): add sets the keys
// (creating the map), replace changes only keys that exist, remove deletes the listed keys that
// exist.
func applyStringMap(obj *unstructured.Unstructured, key string, o *policyv1alpha1.LabelAnnotationOverrider) error {
	add := o.Operator == policyv1alpha1.OverriderOpAdd
	switch o.Operator {
	case policyv1alpha1.OverriderOpAdd, policyv1alpha1.OverriderOpReplace, policyv1alpha1.OverriderOpRemove:
	default:
		return fmt.Errorf("unsupported operator %q", o.Operator)
	}
	if len(o.Value) == 0 {
		return nil
	}
	md, err := childMap(obj.Object, "metadata", "/metadata", add)
	if md == nil || err != nil {
		return err
	}
	m, err := childMap(md, key, "/metadata/"+key, add)
	if m == nil || err != nil {
		return err
	}
	for k, v := range o.Value {
		_, exists := m[k]
		switch {
		case add, o.Operator == policyv1alpha1.OverriderOpReplace && exists:
			m[k] = v
		case o.Operator == policyv1alpha1.OverriderOpRemove:
			delete(m, k)
		}
	}
	return nil
}

// childMap returns parent[key] as an object; when it is missing or null it is created if create
// is true and nil is returned otherwise.
func childMap(parent map[string]any, key, ptr string, create bool) (map[string]any, error) {
	switch v := parent[key].(type) {
	case map[string]any:
		return v, nil
	case nil:
		if !create {
			return nil, nil
		}
		m := map[string]any{}
		parent[key] = m
		return m, nil
	default:
		return nil, fmt.Errorf("%s is not an object", ptr)
	}
}
