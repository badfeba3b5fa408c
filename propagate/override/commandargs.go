package override

import (
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
)

// applyCommandArgs changes the command or args (target) of the containers named o.ContainerName
// in obj's pod spec: add appends the values (creating the list), remove deletes every element
// equal to one of them. Objects without such a container are left alone.
func applyCommandArgs(obj *unstructured.Unstructured, target string, o *policyv1alpha1.CommandArgsOverrider) error {
	if o.Operator != policyv1alpha1.OverriderOpAdd && o.Operator != policyv1alpha1.OverriderOpRemove {
		return fmt.Errorf("unsupported operator %q: must be add or remove", o.Operator)
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
		if name, _ := m["name"].(string); name != o.ContainerName {
			continue
		}
		var cur []any
		if v := m[target]; v != nil {
			if cur, ok = v.([]any); !ok {
				return fmt.Errorf("%s/%d/%s is not a list", ptr, i, target)
			}
		}
		switch o.Operator {
		case policyv1alpha1.OverriderOpAdd:
			next := make([]any, 0, len(cur)+len(o.Value))
			next = append(next, cur...)
			for _, v := range o.Value {
				next = append(next, v)
			}
			m[target] = next
		case policyv1alpha1.OverriderOpRemove:
			if cur == nil {
				continue
			}
			m[target] = slices.DeleteFunc(cur, func(e any) bool {
				s, ok := e.(string)
				return ok && slices.Contains(o.Value, s)
			})
		}
	}
	return nil
}
