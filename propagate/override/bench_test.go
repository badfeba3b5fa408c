package override

import (
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
)

// benchPolicies returns n OverridePolicies of namespace default that all match the benchmark
// Deployment (a third each by name, by labels, and with no selector) and n
// ClusterOverridePolicies of which half match, every policy with one rule for the cluster and one
// for another cluster, overriding image, labels, annotations and replicas as real policies do.
func benchPolicies(n int) ([]*policyv1alpha1.ClusterOverridePolicy, []*policyv1alpha1.OverridePolicy) {
	var cops []*policyv1alpha1.ClusterOverridePolicy
	var ops []*policyv1alpha1.OverridePolicy
	for i := 0; i < n; i++ {
		rule := policyv1alpha1.RuleWithCluster{
			TargetCluster: &policyv1alpha1.ClusterAffinity{LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"env": "prod"}}},
			Overriders: policyv1alpha1.Overriders{
				ImageOverrider:       []policyv1alpha1.ImageOverrider{{Component: policyv1alpha1.Registry, Operator: opReplace, Value: "mirror.example.com"}, {Component: policyv1alpha1.Tag, Operator: opReplace, Value: fmt.Sprintf("1.%d", i)}},
				LabelsOverrider:      []policyv1alpha1.LabelAnnotationOverrider{{Operator: opAdd, Value: map[string]string{"policy": fmt.Sprint(i), "env": "prod"}}},
				AnnotationsOverrider: []policyv1alpha1.LabelAnnotationOverrider{{Operator: opAdd, Value: map[string]string{"example.com/last-policy": fmt.Sprint(i)}}},
				Plaintext: []policyv1alpha1.PlaintextOverrider{
					plaintext("/spec/replicas", opReplace, fmt.Sprint(i%5+1)),
					plaintext("/spec/template/spec/containers/0/resources/limits/memory", opReplace, `"256Mi"`),
				},
			},
		}
		other := policyv1alpha1.RuleWithCluster{TargetCluster: &policyv1alpha1.ClusterAffinity{ClusterNames: []string{"member9"}}, Overriders: rule.Overriders}
		spec := policyv1alpha1.OverrideSpec{OverrideRules: []policyv1alpha1.RuleWithCluster{rule, other}}
		switch i % 3 {
		case 0:
			spec.ResourceSelectors = []policyv1alpha1.ResourceSelector{deploySel("nginx", nil)}
		case 1:
			spec.ResourceSelectors = []policyv1alpha1.ResourceSelector{{APIVersion: "v1", Kind: "Service"}, deploySel("", map[string]string{"app": "nginx"})}
		}
		ops = append(ops, op("default", fmt.Sprintf("op-%03d", i), spec))
		cspec := spec
		if i%2 == 1 {
			cspec.ResourceSelectors = []policyv1alpha1.ResourceSelector{{APIVersion: "apps/v1", Kind: "StatefulSet"}}
		}
		cops = append(cops, cop(fmt.Sprintf("cop-%03d", i), cspec))
	}
	return cops, ops
}

// BenchmarkApply applies n matching OverridePolicies (one rule each for this cluster) to a
// realistic Deployment.
func BenchmarkApply(b *testing.B) {
	obj := mustObject(b, deploymentYAML)
	cluster := memberCluster("member1", map[string]string{"env": "prod"}, "eu")
	for _, n := range []int{0, 5, 50} {
		_, ops := benchPolicies(n)
		selected := Select(obj, cluster, nil, ops)
		if len(selected) != n {
			b.Fatalf("selected %d policies, want %d", len(selected), n)
		}
		b.Run(fmt.Sprintf("policies=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := Apply(obj, selected...); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSelect selects among n ClusterOverridePolicies and n OverridePolicies.
func BenchmarkSelect(b *testing.B) {
	obj := mustObject(b, deploymentYAML)
	cluster := memberCluster("member1", map[string]string{"env": "prod"}, "eu")
	for _, n := range []int{5, 50} {
		cops, ops := benchPolicies(n)
		b.Run(fmt.Sprintf("policies=%d", 2*n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Select(obj, cluster, cops, ops)
			}
		})
	}
}

// BenchmarkApplyForCluster is the whole per-object-and-cluster cost: select among n
// ClusterOverridePolicies and n OverridePolicies, then apply the 1.5·n that match.
func BenchmarkApplyForCluster(b *testing.B) {
	obj := mustObject(b, deploymentYAML)
	cluster := memberCluster("member1", map[string]string{"env": "prod"}, "eu")
	for _, n := range []int{5, 50} {
		cops, ops := benchPolicies(n)
		b.Run(fmt.Sprintf("policies=%d", 2*n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := ApplyForCluster(obj, cluster, cops, ops); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
