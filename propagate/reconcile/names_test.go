package reconcile_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	"github.com/fleetgate/fleetgate/propagate/names"
)

// The reconciler writes each template's binding under names.BindingName, the name the admission
// pipeline looks up (webhook's planInput and dispatch): for a name with ':' and for a
// 253-character name too.
func TestBindingNamesAgreeWithAdmission(t *testing.T) {
	e := sharedEnv(t)
	e.startController(t)
	const ns = "names"
	e.namespace(t, ns, nil)
	pp := configMapPolicy(ns, "member1")
	pp.Spec.ResourceSelectors = append(pp.Spec.ResourceSelectors,
		policyv1alpha1.ResourceSelector{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"})
	e.policy(t, pp)
	long := strings.Repeat("n", 253)
	e.createConfigMap(t, ns, long, map[string]string{"k": "v"})
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "system:fg-x", Namespace: ns}}
	if _, err := e.kube.RbacV1().Roles(ns).Create(context.Background(), role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ kind, name string }{{"ConfigMap", long}, {"Role", "system:fg-x"}} {
		want := names.BindingName(tc.kind, tc.name)
		eventually(t, waitLong, func() error {
			b, err := e.binding(t, ns, want)
			if err != nil {
				return fmt.Errorf("binding of %s %s under %q: %w", tc.kind, tc.name, want, err)
			}
			if b.Spec.Resource.Name != tc.name || b.Spec.Resource.Kind != tc.kind {
				return fmt.Errorf("binding %q is for %s %s", want, b.Spec.Resource.Kind, b.Spec.Resource.Name)
			}
			return e.fullyApplied(t, ns, want, "member1")
		})
	}
}
