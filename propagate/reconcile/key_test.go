package reconcile

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestParseTemplateRef(t *testing.T) {
	tests := []struct {
		ref      string
		gvk      schema.GroupVersionKind
		ns, name string
		ok       bool
	}{
		{"apps/v1/Deployment/default/web", schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, "default", "web", true},
		{"v1/ConfigMap/ns/cm", schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, "ns", "cm", true},
		{"v1/Namespace//team-a", schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, "", "team-a", true},
		{"rbac.authorization.k8s.io/v1/ClusterRole//fg:reader", schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"}, "", "fg:reader", true},
		{"v1/ConfigMap/ns/", schema.GroupVersionKind{}, "", "", false},
		{"ConfigMap/ns/cm", schema.GroupVersionKind{}, "", "", false},
		{"", schema.GroupVersionKind{}, "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.ref, func(t *testing.T) {
			gvk, ns, name, ok := parseTemplateRef(tc.ref)
			if ok != tc.ok || ok && (gvk != tc.gvk || ns != tc.ns || name != tc.name) {
				t.Errorf("parseTemplateRef(%q) = %v %q %q %v, want %v %q %q %v", tc.ref, gvk, ns, name, ok, tc.gvk, tc.ns, tc.name, tc.ok)
			}
		})
	}
}

func TestHashObject(t *testing.T) {
	a := &unstructured.Unstructured{Object: map[string]any{"kind": "ConfigMap", "data": map[string]any{"x": "1", "y": "2"}}}
	b := &unstructured.Unstructured{Object: map[string]any{"data": map[string]any{"y": "2", "x": "1"}, "kind": "ConfigMap"}}
	c := &unstructured.Unstructured{Object: map[string]any{"kind": "ConfigMap", "data": map[string]any{"x": "1", "y": "3"}}}
	if hashObject(a) != hashObject(b) {
		t.Error("equal objects hash differently")
	}
	if hashObject(a) == hashObject(c) {
		t.Error("different objects hash equally")
	}
}

func TestKeyString(t *testing.T) {
	for _, tc := range []struct {
		key  Key
		want string
	}{
		{Key{Kind: schema.GroupKind{Group: "apps", Kind: "Deployment"}, Namespace: "default", Name: "web"}, "Deployment.apps/default/web"},
		{Key{Kind: namespacesGK, Name: "team-a"}, "Namespace/team-a"},
	} {
		if got := tc.key.String(); got != tc.want {
			t.Errorf("%#v.String() = %q, want %q", tc.key, got, tc.want)
		}
	}
}
