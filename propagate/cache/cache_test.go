package cache

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	dynamicfake "k8s.io/client-go/dynamic/fake"
)

func pp(rv, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "policy.karmada.io/v1alpha1", "kind": "PropagationPolicy",
		"metadata": map[string]any{"name": "p", "namespace": "default", "resourceVersion": rv},
		"spec":     map[string]any{"resourceSelectors": []any{map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "name": name}}},
	}}
	return u
}

// TestObserveReadsYourWrites: an observed policy is listed at once; an older version never replaces
// a newer one; unwatched resources are ignored.
func TestObserveReadsYourWrites(t *testing.T) {
	c := New(dynamicfake.NewSimpleDynamicClient(runtime.NewScheme()))
	c.Observe(PropagationPoliciesGVR, pp("10", "a"))
	got := c.PropagationPolicies("default")
	if len(got) != 1 || got[0].Spec.ResourceSelectors[0].Name != "a" {
		t.Fatalf("observed policy not listed: %+v", got)
	}
	c.Observe(PropagationPoliciesGVR, pp("9", "older"))
	if got := c.PropagationPolicies("default"); got[0].Spec.ResourceSelectors[0].Name != "a" {
		t.Errorf("an older version replaced a newer one")
	}
	c.Observe(PropagationPoliciesGVR, pp("11", "b"))
	if got := c.PropagationPolicies("default"); got[0].Spec.ResourceSelectors[0].Name != "b" {
		t.Errorf("a newer version was not recorded")
	}
	c.Observe(PropagationPoliciesGVR.GroupVersion().WithResource("unknown"), pp("12", "c"))
	if len(c.PropagationPolicies("default")) != 1 {
		t.Errorf("an unwatched resource was recorded")
	}
	// The watch delivering the key's deletion ends the observation.
	obj, _ := convertFor(PropagationPoliciesGVR, pp("11", "b"))
	c.forget(PropagationPoliciesGVR, obj, true)
	if got := c.PropagationPolicies("default"); len(got) != 0 {
		t.Errorf("a deleted policy is still listed: %+v", got)
	}
}
