package override_test

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	"github.com/fleetgate/fleetgate/propagate/override"
)

// The WALKTHROUGH.md policy: member1 runs nginx:1.20.
func ExampleApplyForCluster() {
	deploy := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1",
		"kind":       "Deployment",
		"metadata":   map[string]any{"name": "nginx", "namespace": "default"},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
			"containers": []any{map[string]any{"name": "nginx", "image": "nginx"}},
		}}},
	}}
	op := &policyv1alpha1.OverridePolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "nginx-tag"},
		Spec: policyv1alpha1.OverrideSpec{
			ResourceSelectors: []policyv1alpha1.ResourceSelector{{APIVersion: "apps/v1", Kind: "Deployment", Name: "nginx"}},
			OverrideRules: []policyv1alpha1.RuleWithCluster{{
				TargetCluster: &policyv1alpha1.ClusterAffinity{ClusterNames: []string{"member1"}},
				Overriders: policyv1alpha1.Overriders{ImageOverrider: []policyv1alpha1.ImageOverrider{
					{Component: policyv1alpha1.Tag, Operator: policyv1alpha1.OverriderOpReplace, Value: "1.20"},
				}},
			}},
		},
	}
	for _, name := range []string{"member1", "member2"} {
		cluster := &clusterv1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: name}}
		out, applied, err := override.ApplyForCluster(deploy, cluster, nil, []*policyv1alpha1.OverridePolicy{op})
		if err != nil {
			fmt.Println(err)
			return
		}
		containers, _, _ := unstructured.NestedSlice(out.Object, "spec", "template", "spec", "containers")
		annotations, _ := override.AppliedAnnotations(applied)
		fmt.Println(name, containers[0].(map[string]any)["image"], annotations[policyv1alpha1.AppliedOverrides])
	}
	// Output:
	// member1 nginx:1.20 [{"policyName":"nginx-tag","overriders":{"imageOverrider":[{"component":"Tag","operator":"replace","value":"1.20"}]}}]
	// member2 nginx
}
