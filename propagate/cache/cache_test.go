package cache

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
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

// TestCachedObjectsHaveNoManagedFields: the informers keep objects without managedFields (never
// read), everything else as the host has it.
func TestCachedObjectsHaveNoManagedFields(t *testing.T) {
	rb := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "work.karmada.io/v1alpha2", "kind": "ResourceBinding",
		"metadata": map[string]any{
			"name": "web-deployment", "namespace": "default", "resourceVersion": "7",
			"annotations": map[string]any{"fleetgate.io/applied-hashes": `{"member1":"121156e69c6f8d2f"}`},
			"managedFields": []any{map[string]any{
				"apiVersion": "work.karmada.io/v1alpha2", "fieldsType": "FieldsV1", "manager": "fleetgate", "operation": "Update",
				"fieldsV1": map[string]any{"f:spec": map[string]any{"f:clusters": map[string]any{}}},
			}},
		},
		"spec": map[string]any{
			"resource": map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "default", "name": "web"},
			"clusters": []any{map[string]any{"name": "member1", "replicas": int64(2)}},
		},
	}}
	want, err := convertFor(ResourceBindingsGVR, func() *unstructured.Unstructured {
		u := rb.DeepCopy()
		u.SetManagedFields(nil)
		return u
	}())
	if err != nil {
		t.Fatal(err)
	}
	listKinds := map[schema.GroupVersionResource]string{}
	for gvr := range converters {
		listKinds[gvr] = "List"
	}
	c := New(dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), listKinds, rb))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.Start(ctx)
	if !c.WaitForSync(ctx) {
		t.Fatal("cache not synced")
	}
	got, ok := c.ResourceBinding("default", "web-deployment")
	if !ok {
		t.Fatal("binding not cached")
	}
	if len(got.ManagedFields) != 0 {
		t.Errorf("cached binding has managedFields %+v", got.ManagedFields)
	}
	if !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("cached binding differs from the host's (managedFields aside):\n got %+v\nwant %+v", got, want)
	}
}
