package selector

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
)

func object(apiVersion, kind, ns, name string, labels map[string]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetNamespace(ns)
	u.SetName(name)
	u.SetLabels(labels)
	return u
}

func TestMatchesSelector(t *testing.T) {
	deploy := object("apps/v1", "Deployment", "default", "nginx", map[string]string{"app": "nginx", "tier": "web"})
	clusterRole := object("rbac.authorization.k8s.io/v1", "ClusterRole", "", "admin", nil)
	appNginx := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "nginx"}}
	appOther := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "other"}}
	invalid := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Bogus"}}}

	tests := []struct {
		name     string
		obj      *unstructured.Unstructured
		rs       policyv1alpha1.ResourceSelector
		policyNS string
		want     Specificity
	}{
		{"kind match-all", deploy, policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "Deployment"}, "", MatchAll},
		{"version not compared", deploy, policyv1alpha1.ResourceSelector{APIVersion: "apps/v1beta1", Kind: "Deployment"}, "", MatchAll},
		{"group compared", deploy, policyv1alpha1.ResourceSelector{APIVersion: "extensions/v1", Kind: "Deployment"}, "", NoMatch},
		{"kind compared exactly", deploy, policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "deployment"}, "", NoMatch},
		{"namespace matches", deploy, policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "default"}, "", MatchAll},
		{"namespace differs", deploy, policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "prod"}, "", NoMatch},
		{"empty namespace is the policy's", deploy, policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "Deployment"}, "default", MatchAll},
		{"policy of another namespace", deploy, policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "Deployment"}, "prod", NoMatch},
		{"namespaced policy naming another namespace", deploy, policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "default"}, "prod", NoMatch},
		{"name", deploy, policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "Deployment", Name: "nginx"}, "", MatchName},
		{"other name", deploy, policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "Deployment", Name: "redis"}, "", NoMatch},
		{"name ignores labelSelector", deploy, policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "Deployment", Name: "nginx", LabelSelector: appOther}, "", MatchName},
		{"labelSelector", deploy, policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "Deployment", LabelSelector: appNginx}, "", MatchLabels},
		{"labelSelector mismatch", deploy, policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "Deployment", LabelSelector: appOther}, "", NoMatch},
		{"empty labelSelector selects all labels", deploy, policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "Deployment", LabelSelector: &metav1.LabelSelector{}}, "", MatchLabels},
		{"invalid labelSelector selects nothing", deploy, policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "Deployment", LabelSelector: invalid}, "", NoMatch},
		{"cluster-scoped by cluster policy", clusterRole, policyv1alpha1.ResourceSelector{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"}, "", MatchAll},
		{"cluster-scoped never by namespaced policy", clusterRole, policyv1alpha1.ResourceSelector{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"}, "default", NoMatch},
		{"cluster-scoped with namespace selector", clusterRole, policyv1alpha1.ResourceSelector{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole", Namespace: "default"}, "", NoMatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, got := MatchesSelector(tt.obj, &tt.rs, tt.policyNS)
			if got != tt.want || ok != (tt.want != NoMatch) {
				t.Fatalf("MatchesSelector = %v, %v; want %v", ok, got, tt.want)
			}
		})
	}
}

func TestMatchesSelectorsBest(t *testing.T) {
	deploy := object("apps/v1", "Deployment", "default", "nginx", map[string]string{"app": "nginx"})
	sels := []policyv1alpha1.ResourceSelector{
		{APIVersion: "v1", Kind: "Service"},
		{APIVersion: "apps/v1", Kind: "Deployment"},
		{APIVersion: "apps/v1", Kind: "Deployment", LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "nginx"}}},
	}
	if ok, s := MatchesSelectors(deploy, sels, ""); !ok || s != MatchLabels {
		t.Fatalf("got %v %v, want labelSelector", ok, s)
	}
	sels = append(sels, policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "Deployment", Name: "nginx"})
	if ok, s := MatchesSelectors(deploy, sels, ""); !ok || s != MatchName {
		t.Fatalf("got %v %v, want name", ok, s)
	}
	if ok, s := MatchesSelectors(deploy, nil, ""); ok || s != NoMatch {
		t.Fatalf("no selectors: got %v %v, want no match", ok, s)
	}
	for s, want := range map[Specificity]string{NoMatch: "no match", MatchAll: "match-all", MatchLabels: "labelSelector", MatchName: "name"} {
		if s.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(s), s.String(), want)
		}
	}
}
