package plan

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	"github.com/fleetgate/fleetgate/propagate/member"
)

func readyCluster(name string) *clusterv1alpha1.Cluster {
	return &clusterv1alpha1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Status: clusterv1alpha1.ClusterStatus{Conditions: []metav1.Condition{{
			Type: clusterv1alpha1.ClusterConditionReady, Status: metav1.ConditionTrue,
		}}},
	}
}

func decode[T any](t *testing.T, s string) *T {
	t.Helper()
	var v T
	if err := yaml.UnmarshalStrict([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return &v
}

const deployment = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: nginx, namespace: default, uid: u-1, resourceVersion: "7", labels: {app: nginx},
  annotations: {kubectl.kubernetes.io/last-applied-configuration: "{}"}, finalizers: [fleetgate.io/propagation]}
spec:
  replicas: 3
  selector: {matchLabels: {app: nginx}}
  template:
    metadata: {labels: {app: nginx}}
    spec: {containers: [{name: nginx, image: nginx}]}
status: {replicas: 3}
`

func TestComputeDividesAndOverridesPerCluster(t *testing.T) {
	tmpl := decode[unstructured.Unstructured](t, deployment)
	orig := tmpl.DeepCopy()
	pp := decode[policyv1alpha1.PropagationPolicy](t, `
metadata: {name: nginx, namespace: default}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment, name: nginx}]
  placement:
    clusterAffinity: {clusterNames: [member1, member2]}
    replicaScheduling:
      replicaSchedulingType: Divided
      weightPreference: {staticWeightList: [{targetCluster: {clusterNames: [member1]}, weight: 1}, {targetCluster: {clusterNames: [member2]}, weight: 2}]}
`)
	op := decode[policyv1alpha1.OverridePolicy](t, `
metadata: {name: example, namespace: default}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment, name: nginx}]
  overrideRules:
  - targetCluster: {clusterNames: [member1]}
    overriders:
      imageOverrider: [{component: Tag, operator: replace, value: "1.20"}]
      labelsOverrider: [{operator: remove, value: {fleetgate.io/managed: ""}}]
`)
	p := Compute(Input{
		Template:            tmpl,
		PropagationPolicies: []*policyv1alpha1.PropagationPolicy{pp},
		OverridePolicies:    []*policyv1alpha1.OverridePolicy{op},
		Clusters:            []*clusterv1alpha1.Cluster{readyCluster("member1"), readyCluster("member2"), readyCluster("member3")},
	})
	if !p.Claimed() || p.Claim.Ref.Name != "nginx" || p.SchedulingErr != nil {
		t.Fatalf("plan %+v", p)
	}
	want := map[string]struct {
		replicas int64
		image    string
	}{"member1": {1, "nginx:1.20"}, "member2": {2, "nginx"}}
	if len(p.Targets) != 2 {
		t.Fatalf("targets %+v", p.Targets)
	}
	for name, w := range want {
		cp := p.Clusters[name]
		if cp == nil || cp.Err != nil {
			t.Fatalf("%s: %+v", name, cp)
		}
		o := cp.Object
		r, _, _ := unstructured.NestedInt64(o.Object, "spec", "replicas")
		cs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		img := cs[0].(map[string]any)["image"]
		if r != w.replicas || img != w.image {
			t.Errorf("%s: replicas %d image %v, want %d %s", name, r, img, w.replicas, w.image)
		}
		if !member.IsManaged(o) || o.GetAnnotations()[member.AnnotationTemplate] != "apps/v1/Deployment/default/nginx" || o.GetAnnotations()[member.AnnotationTemplateUID] != "u-1" {
			t.Errorf("%s: managed marks missing (an override may not remove them): %v %v", name, o.GetLabels(), o.GetAnnotations())
		}
		if o.GetResourceVersion() != "" || o.GetUID() != "" || len(o.GetFinalizers()) != 0 || o.Object["status"] != nil {
			t.Errorf("%s: server fields copied: %v", name, o.Object["metadata"])
		}
		if _, ok := o.GetAnnotations()["kubectl.kubernetes.io/last-applied-configuration"]; ok {
			t.Errorf("%s: last-applied annotation copied", name)
		}
	}
	if len(p.Clusters["member1"].Applied) != 1 || len(p.Clusters["member2"].Applied) != 0 {
		t.Errorf("applied overrides: member1 %v, member2 %v", p.Clusters["member1"].Applied, p.Clusters["member2"].Applied)
	}
	if len(p.Excluded) != 1 || p.Excluded[0].Cluster != "member3" {
		t.Errorf("excluded %+v", p.Excluded)
	}
	if !equalJSON(t, orig, tmpl) {
		t.Error("Compute mutated the template")
	}
}

func TestComputeUnclaimedAndNotPropagatable(t *testing.T) {
	tmpl := decode[unstructured.Unstructured](t, deployment)
	if p := Compute(Input{Template: tmpl, Clusters: []*clusterv1alpha1.Cluster{readyCluster("member1")}}); p.Claimed() || len(p.Clusters) != 0 {
		t.Errorf("unclaimed template planned: %+v", p)
	}
	lease := decode[unstructured.Unstructured](t, `{apiVersion: coordination.k8s.io/v1, kind: Lease, metadata: {name: l, namespace: default}}`)
	cpp := decode[policyv1alpha1.ClusterPropagationPolicy](t, `{metadata: {name: all}, spec: {resourceSelectors: [{apiVersion: coordination.k8s.io/v1, kind: Lease}]}}`)
	if p := Compute(Input{Template: lease, ClusterPropagationPolicies: []*policyv1alpha1.ClusterPropagationPolicy{cpp}}); p.Claimed() {
		t.Errorf("a Lease was claimed")
	}
}

func TestComputeReportsSchedulingAndOverrideErrors(t *testing.T) {
	tmpl := decode[unstructured.Unstructured](t, deployment)
	pp := decode[policyv1alpha1.PropagationPolicy](t, `
metadata: {name: nginx, namespace: default}
spec: {resourceSelectors: [{apiVersion: apps/v1, kind: Deployment}], placement: {clusterAffinity: {clusterNames: [nowhere]}}}
`)
	p := Compute(Input{Template: tmpl, PropagationPolicies: []*policyv1alpha1.PropagationPolicy{pp}, Clusters: []*clusterv1alpha1.Cluster{readyCluster("member1")}})
	if p.SchedulingErr == nil || len(p.Targets) != 0 {
		t.Errorf("want a scheduling error, got %+v", p)
	}
	pp.Spec.Placement.ClusterAffinity.ClusterNames = []string{"member1"}
	op := decode[policyv1alpha1.OverridePolicy](t, `
metadata: {name: broken, namespace: default}
spec: {overrideRules: [{overriders: {plaintext: [{path: /spec/nope/deeper, operator: replace, value: 1}]}}]}
`)
	p = Compute(Input{Template: tmpl, PropagationPolicies: []*policyv1alpha1.PropagationPolicy{pp},
		OverridePolicies: []*policyv1alpha1.OverridePolicy{op}, Clusters: []*clusterv1alpha1.Cluster{readyCluster("member1")}})
	cp := p.Clusters["member1"]
	if cp == nil || cp.Err == nil || cp.Object != nil {
		t.Fatalf("want an override error for member1, got %+v", cp)
	}
	for _, want := range []string{"member1", "OverridePolicy default/broken", "/spec/nope"} {
		if !contains(cp.Err.Error(), want) {
			t.Errorf("error %q does not name %q", cp.Err, want)
		}
	}
}
