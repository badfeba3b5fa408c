package override

import (
	"fmt"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	"github.com/fleetgate/fleetgate/propagate/selector"
)

func deploySel(name string, labels map[string]string) policyv1alpha1.ResourceSelector {
	rs := policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "Deployment", Name: name}
	if labels != nil {
		rs.LabelSelector = &metav1.LabelSelector{MatchLabels: labels}
	}
	return rs
}

// setLabel is a rule that sets label "winner" (and records who ran) for the clusters aff selects.
func setLabel(value string, aff *policyv1alpha1.ClusterAffinity) policyv1alpha1.RuleWithCluster {
	return policyv1alpha1.RuleWithCluster{TargetCluster: aff, Overriders: policyv1alpha1.Overriders{
		LabelsOverrider: []policyv1alpha1.LabelAnnotationOverrider{{Operator: opAdd, Value: map[string]string{"winner": value}}},
		Plaintext:       []policyv1alpha1.PlaintextOverrider{plaintext("/metadata/annotations/order", opAdd, `"`+value+`"`)},
	}}
}

func onlyClusters(names ...string) *policyv1alpha1.ClusterAffinity {
	return &policyv1alpha1.ClusterAffinity{ClusterNames: names}
}

func refs(as []Applicable) []string {
	var out []string
	for _, a := range as {
		for _, r := range a.Rules {
			out = append(out, fmt.Sprintf("%s#%d", a.Policy, r.Index))
		}
	}
	return out
}

func TestSelectOrder(t *testing.T) {
	deleting := metav1.Now()
	byName := deploySel("nginx", nil)
	byLabel := deploySel("", map[string]string{"app": "nginx"})
	all := deploySel("", nil)
	cops := []*policyv1alpha1.ClusterOverridePolicy{
		cop("c-name", policyv1alpha1.OverrideSpec{ResourceSelectors: []policyv1alpha1.ResourceSelector{byName}, OverrideRules: []policyv1alpha1.RuleWithCluster{setLabel("c-name", nil)}}),
		cop("c-label-b", policyv1alpha1.OverrideSpec{ResourceSelectors: []policyv1alpha1.ResourceSelector{byLabel}, OverrideRules: []policyv1alpha1.RuleWithCluster{setLabel("c-label-b", nil)}}),
		cop("c-label-a", policyv1alpha1.OverrideSpec{ResourceSelectors: []policyv1alpha1.ResourceSelector{all, byLabel}, OverrideRules: []policyv1alpha1.RuleWithCluster{setLabel("c-label-a", nil)}}),
		cop("c-empty", policyv1alpha1.OverrideSpec{OverrideRules: []policyv1alpha1.RuleWithCluster{setLabel("c-empty", nil)}}),
		cop("c-all", policyv1alpha1.OverrideSpec{ResourceSelectors: []policyv1alpha1.ResourceSelector{all}, OverrideRules: []policyv1alpha1.RuleWithCluster{setLabel("c-all", nil)}}),
		cop("c-other-kind", policyv1alpha1.OverrideSpec{ResourceSelectors: []policyv1alpha1.ResourceSelector{{APIVersion: "v1", Kind: "Service"}}, OverrideRules: []policyv1alpha1.RuleWithCluster{setLabel("c-other-kind", nil)}}),
		cop("c-other-ns", policyv1alpha1.OverrideSpec{ResourceSelectors: []policyv1alpha1.ResourceSelector{{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "prod"}}, OverrideRules: []policyv1alpha1.RuleWithCluster{setLabel("c-other-ns", nil)}}),
		nil,
	}
	deletingCOP := cop("c-deleting", policyv1alpha1.OverrideSpec{OverrideRules: []policyv1alpha1.RuleWithCluster{setLabel("c-deleting", nil)}})
	deletingCOP.DeletionTimestamp = &deleting
	cops = append(cops, deletingCOP)

	ops := []*policyv1alpha1.OverridePolicy{
		op("default", "o-name", policyv1alpha1.OverrideSpec{ResourceSelectors: []policyv1alpha1.ResourceSelector{byName}, OverrideRules: []policyv1alpha1.RuleWithCluster{
			setLabel("o-name-0", nil), setLabel("o-name-1", onlyClusters("member2")), setLabel("o-name-2", onlyClusters("member1")),
		}}),
		op("default", "o-all", policyv1alpha1.OverrideSpec{OverrideRules: []policyv1alpha1.RuleWithCluster{setLabel("o-all", nil)}}),
		op("default", "o-label", policyv1alpha1.OverrideSpec{ResourceSelectors: []policyv1alpha1.ResourceSelector{byLabel}, OverrideRules: []policyv1alpha1.RuleWithCluster{setLabel("o-label", nil)}}),
		op("default", "o-deprecated", policyv1alpha1.OverrideSpec{ResourceSelectors: []policyv1alpha1.ResourceSelector{all}, TargetCluster: onlyClusters("member1"), Overriders: setLabel("o-deprecated", nil).Overriders}),
		op("default", "o-deprecated-elsewhere", policyv1alpha1.OverrideSpec{TargetCluster: onlyClusters("member2"), Overriders: setLabel("x", nil).Overriders}),
		op("default", "o-no-rule-here", policyv1alpha1.OverrideSpec{OverrideRules: []policyv1alpha1.RuleWithCluster{setLabel("x", onlyClusters("member2"))}}),
		op("prod", "o-prod", policyv1alpha1.OverrideSpec{OverrideRules: []policyv1alpha1.RuleWithCluster{setLabel("o-prod", nil)}}),
		op("default", "o-ns-selector", policyv1alpha1.OverrideSpec{ResourceSelectors: []policyv1alpha1.ResourceSelector{{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "default", Name: "nginx"}}, OverrideRules: []policyv1alpha1.RuleWithCluster{setLabel("o-ns-selector", nil)}}),
	}
	deletingOP := op("default", "o-deleting", policyv1alpha1.OverrideSpec{OverrideRules: []policyv1alpha1.RuleWithCluster{setLabel("o-deleting", nil)}})
	deletingOP.DeletionTimestamp = &deleting
	ops = append(ops, deletingOP)

	obj := mustObject(t, deploymentYAML)
	member1 := memberCluster("member1", nil, "")
	got := Select(obj, member1, cops, ops)
	want := []string{
		"ClusterOverridePolicy c-all#0",
		"ClusterOverridePolicy c-empty#0",
		"ClusterOverridePolicy c-label-a#0",
		"ClusterOverridePolicy c-label-b#0",
		"ClusterOverridePolicy c-name#0",
		"OverridePolicy default/o-all#0",
		"OverridePolicy default/o-deprecated#-1",
		"OverridePolicy default/o-label#0",
		"OverridePolicy default/o-name#0",
		"OverridePolicy default/o-name#2",
		"OverridePolicy default/o-ns-selector#0",
	}
	if r := refs(got); !reflect.DeepEqual(r, want) {
		t.Fatalf("Select order:\n got %q\nwant %q", r, want)
	}
	wantSpec := []selector.Specificity{selector.MatchAll, selector.MatchAll, selector.MatchLabels, selector.MatchLabels, selector.MatchName,
		selector.MatchAll, selector.MatchAll, selector.MatchLabels, selector.MatchName, selector.MatchName}
	for i, a := range got {
		if a.Specificity != wantSpec[i] {
			t.Errorf("%s: specificity %v, want %v", a.Policy, a.Specificity, wantSpec[i])
		}
	}

	// The most specific OverridePolicy runs last and wins; its last matching rule wins within it.
	out, applied, err := Apply(obj, got...)
	if err != nil {
		t.Fatal(err)
	}
	if w := out.GetLabels()["winner"]; w != "o-ns-selector" {
		t.Fatalf("winner = %q", w)
	}
	if len(applied) != len(want) {
		t.Fatalf("applied %d rules, want %d", len(applied), len(want))
	}

	// Another cluster gets other rules.
	got = Select(obj, memberCluster("member2", nil, ""), cops, ops)
	want = []string{
		"ClusterOverridePolicy c-all#0",
		"ClusterOverridePolicy c-empty#0",
		"ClusterOverridePolicy c-label-a#0",
		"ClusterOverridePolicy c-label-b#0",
		"ClusterOverridePolicy c-name#0",
		"OverridePolicy default/o-all#0",
		"OverridePolicy default/o-deprecated-elsewhere#-1",
		"OverridePolicy default/o-no-rule-here#0",
		"OverridePolicy default/o-label#0",
		"OverridePolicy default/o-name#0",
		"OverridePolicy default/o-name#1",
		"OverridePolicy default/o-ns-selector#0",
	}
	if r := refs(got); !reflect.DeepEqual(r, want) {
		t.Fatalf("Select order for member2:\n got %q\nwant %q", r, want)
	}
}

func TestSelectClusterScoped(t *testing.T) {
	obj := mustObject(t, `{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"admin"}}`)
	cops := []*policyv1alpha1.ClusterOverridePolicy{
		cop("c", policyv1alpha1.OverrideSpec{Overriders: setLabel("c", nil).Overriders}),
	}
	ops := []*policyv1alpha1.OverridePolicy{op("default", "o", policyv1alpha1.OverrideSpec{Overriders: setLabel("o", nil).Overriders})}
	if r := refs(Select(obj, memberCluster("m", nil, ""), cops, ops)); !reflect.DeepEqual(r, []string{"ClusterOverridePolicy c#-1"}) {
		t.Fatalf("got %q", r)
	}
}

func TestSelectTargetCluster(t *testing.T) {
	obj := mustObject(t, deploymentYAML)
	prodEU := memberCluster("member1", map[string]string{"env": "prod"}, "eu")
	devUS := memberCluster("member2", map[string]string{"env": "dev"}, "us")
	policy := op("default", "p", policyv1alpha1.OverrideSpec{OverrideRules: []policyv1alpha1.RuleWithCluster{
		setLabel("all", nil),
		setLabel("prod", &policyv1alpha1.ClusterAffinity{LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"env": "prod"}}}),
		setLabel("not-member1", &policyv1alpha1.ClusterAffinity{ExcludeClusters: []string{"member1"}}),
		setLabel("us", &policyv1alpha1.ClusterAffinity{FieldSelector: &policyv1alpha1.FieldSelector{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "region", Operator: "In", Values: []string{"us"}}}}}),
		setLabel("empty", &policyv1alpha1.ClusterAffinity{}),
	}})
	for _, tt := range []struct {
		c    string
		want []string
	}{
		{"member1", []string{"OverridePolicy default/p#0", "OverridePolicy default/p#1", "OverridePolicy default/p#4"}},
		{"member2", []string{"OverridePolicy default/p#0", "OverridePolicy default/p#2", "OverridePolicy default/p#3", "OverridePolicy default/p#4"}},
	} {
		c := prodEU
		if tt.c == "member2" {
			c = devUS
		}
		if r := refs(Select(obj, c, nil, []*policyv1alpha1.OverridePolicy{policy})); !reflect.DeepEqual(r, tt.want) {
			t.Errorf("%s: got %q, want %q", tt.c, r, tt.want)
		}
	}
}

// TestApplyForCluster: the most specific policy wins, and OverridePolicies win over
// ClusterOverridePolicies whatever their specificity.
func TestApplyForCluster(t *testing.T) {
	obj := mustObject(t, deploymentYAML)
	cops := []*policyv1alpha1.ClusterOverridePolicy{
		cop("by-name", policyv1alpha1.OverrideSpec{ResourceSelectors: []policyv1alpha1.ResourceSelector{deploySel("nginx", nil)}, OverrideRules: []policyv1alpha1.RuleWithCluster{setLabel("cop-name", nil)}}),
	}
	ops := []*policyv1alpha1.OverridePolicy{
		op("default", "a-name", policyv1alpha1.OverrideSpec{ResourceSelectors: []policyv1alpha1.ResourceSelector{deploySel("nginx", nil)}, OverrideRules: []policyv1alpha1.RuleWithCluster{setLabel("op-name", nil)}}),
		op("default", "z-all", policyv1alpha1.OverrideSpec{OverrideRules: []policyv1alpha1.RuleWithCluster{setLabel("op-all", nil)}}),
	}
	out, applied, err := ApplyForCluster(obj, memberCluster("member1", nil, ""), cops, ops)
	if err != nil {
		t.Fatal(err)
	}
	if w := out.GetLabels()["winner"]; w != "op-name" {
		t.Fatalf("winner = %q, want op-name", w)
	}
	ann, err := AppliedAnnotations(applied)
	if err != nil {
		t.Fatal(err)
	}
	if len(ann) != 2 {
		t.Fatalf("annotations = %v", ann)
	}
}
