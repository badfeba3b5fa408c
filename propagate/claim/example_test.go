package claim_test

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	"github.com/fleetgate/fleetgate/propagate/claim"
)

func ExampleResolve() {
	obj := &unstructured.Unstructured{}
	obj.SetAPIVersion("apps/v1")
	obj.SetKind("Deployment")
	obj.SetNamespace("default")
	obj.SetName("nginx")

	pp := &policyv1alpha1.PropagationPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "example-policy"},
		Spec: policyv1alpha1.PropagationSpec{ResourceSelectors: []policyv1alpha1.ResourceSelector{
			{APIVersion: "apps/v1", Kind: "Deployment", Name: "nginx"},
		}},
	}
	cpp := &policyv1alpha1.ClusterPropagationPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "everything"},
		Spec: policyv1alpha1.PropagationSpec{ResourceSelectors: []policyv1alpha1.ResourceSelector{
			{APIVersion: "apps/v1", Kind: "Deployment"},
		}},
	}

	d := claim.Resolve(obj, []*policyv1alpha1.PropagationPolicy{pp}, []*policyv1alpha1.ClusterPropagationPolicy{cpp})
	fmt.Println(d.Reason, d.Ref, d.Changed)
	if d.Changed {
		claim.Set(obj, d.Ref) // then write obj to the host
	}
	fmt.Println(obj.GetAnnotations()[policyv1alpha1.PropagationPolicyNameAnnotation])

	// Output:
	// Claimed PropagationPolicy default/example-policy true
	// example-policy
}
