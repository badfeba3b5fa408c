package names

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

func TestBindingName(t *testing.T) {
	tests := []struct {
		kind, name, want string
	}{
		{"Deployment", "nginx", "nginx-deployment"},
		{"ConfigMap", "My-Config", "my-config-configmap"},
		{"ClusterRole", "system:aggregate-to-edit", "system.aggregate-to-edit-clusterrole"},
		{"ClusterRole", "system:x", "system.x-clusterrole"},
		{"ClusterRoleBinding", "a:b:c", "a.b.c-clusterrolebinding"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := BindingName(tc.kind, tc.name); got != tc.want {
				t.Errorf("BindingName(%q, %q) = %q, want %q", tc.kind, tc.name, got, tc.want)
			}
		})
	}
}

// Every name a template can have gives a valid, stable and distinct binding name: 253-character
// names (the longest the host accepts), names with ':' and characters a DNS subdomain refuses.
func TestBindingNameIsAlwaysValid(t *testing.T) {
	long := strings.Repeat("a", 253)
	colonLong := "system:" + strings.Repeat("b", 246)
	cases := []struct{ kind, name string }{
		{"ConfigMap", long},
		{"ConfigMap", long[:252] + "c"},
		{"ClusterRole", colonLong},
		{"ClusterRole", colonLong[:252] + "c"},
		{"Role", "odd@name"},
		{"Role", "odd#name"},
		{"Role", "@@@"},
	}
	seen := map[string]string{}
	for _, tc := range cases {
		got := BindingName(tc.kind, tc.name)
		if errs := validation.IsDNS1123Subdomain(got); len(errs) > 0 {
			t.Errorf("BindingName(%q, %q) = %q: %v", tc.kind, tc.name, got, errs)
		}
		if got != BindingName(tc.kind, tc.name) {
			t.Errorf("BindingName(%q, %q) is not stable", tc.kind, tc.name)
		}
		if other, dup := seen[got]; dup {
			t.Errorf("BindingName(%q, %q) = %q collides with %q", tc.kind, tc.name, got, other)
		}
		seen[got] = tc.name
	}
}
