package selector

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
)

func cluster(name string, labels map[string]string, provider, region string, zones ...string) *clusterv1alpha1.Cluster {
	return &clusterv1alpha1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec:       clusterv1alpha1.ClusterSpec{Provider: provider, Region: region, Zones: zones},
	}
}

func fields(reqs ...corev1.NodeSelectorRequirement) *policyv1alpha1.FieldSelector {
	return &policyv1alpha1.FieldSelector{MatchExpressions: reqs}
}

func req(key string, op corev1.NodeSelectorOperator, values ...string) corev1.NodeSelectorRequirement {
	return corev1.NodeSelectorRequirement{Key: key, Operator: op, Values: values}
}

func TestClusterMatches(t *testing.T) {
	m1 := cluster("member1", map[string]string{"env": "prod"}, "aws", "eu-west-1", "eu-west-1a", "eu-west-1b")
	m2 := cluster("member2", map[string]string{"env": "dev"}, "gcp", "us-east1")
	legacyZone := cluster("member3", nil, "", "")
	legacyZone.Spec.Zone = "z1" //nolint:staticcheck // testing the deprecated field

	tests := []struct {
		name    string
		c       *clusterv1alpha1.Cluster
		aff     *policyv1alpha1.ClusterAffinity
		want    bool
		wantNil bool // for the nil cluster
	}{
		{name: "nil affinity", c: m1, aff: nil, want: true, wantNil: true},
		{name: "empty affinity", c: m1, aff: &policyv1alpha1.ClusterAffinity{}, want: true},
		{name: "clusterNames hit", c: m1, aff: &policyv1alpha1.ClusterAffinity{ClusterNames: []string{"member2", "member1"}}, want: true},
		{name: "clusterNames miss", c: m2, aff: &policyv1alpha1.ClusterAffinity{ClusterNames: []string{"member1"}}},
		{name: "exclude", c: m1, aff: &policyv1alpha1.ClusterAffinity{ExcludeClusters: []string{"member1"}}},
		{name: "exclude wins over names", c: m1, aff: &policyv1alpha1.ClusterAffinity{ClusterNames: []string{"member1"}, ExcludeClusters: []string{"member1"}}},
		{name: "exclude other", c: m1, aff: &policyv1alpha1.ClusterAffinity{ExcludeClusters: []string{"member2"}}, want: true},
		{name: "labels", c: m1, aff: &policyv1alpha1.ClusterAffinity{LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"env": "prod"}}}, want: true},
		{name: "labels miss", c: m2, aff: &policyv1alpha1.ClusterAffinity{LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"env": "prod"}}}},
		{name: "invalid labels", c: m1, aff: &policyv1alpha1.ClusterAffinity{LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"env": "-bad-"}}}},
		{name: "labels and names ANDed", c: m1, aff: &policyv1alpha1.ClusterAffinity{ClusterNames: []string{"member2"}, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"env": "prod"}}}},
		{name: "provider In", c: m1, aff: &policyv1alpha1.ClusterAffinity{FieldSelector: fields(req("provider", corev1.NodeSelectorOpIn, "aws", "azure"))}, want: true},
		{name: "provider NotIn", c: m1, aff: &policyv1alpha1.ClusterAffinity{FieldSelector: fields(req("provider", corev1.NodeSelectorOpNotIn, "aws"))}},
		{name: "region In", c: m2, aff: &policyv1alpha1.ClusterAffinity{FieldSelector: fields(req("region", corev1.NodeSelectorOpIn, "us-east1"))}, want: true},
		{name: "region and provider ANDed", c: m2, aff: &policyv1alpha1.ClusterAffinity{FieldSelector: fields(req("region", corev1.NodeSelectorOpIn, "us-east1"), req("provider", corev1.NodeSelectorOpIn, "aws"))}},
		{name: "zone In any of zones", c: m1, aff: &policyv1alpha1.ClusterAffinity{FieldSelector: fields(req("zone", corev1.NodeSelectorOpIn, "eu-west-1b"))}, want: true},
		{name: "zone In none", c: m1, aff: &policyv1alpha1.ClusterAffinity{FieldSelector: fields(req("zone", corev1.NodeSelectorOpIn, "eu-west-1c"))}},
		{name: "zone NotIn one of zones", c: m1, aff: &policyv1alpha1.ClusterAffinity{FieldSelector: fields(req("zone", corev1.NodeSelectorOpNotIn, "eu-west-1a"))}},
		{name: "zone NotIn without zones", c: m2, aff: &policyv1alpha1.ClusterAffinity{FieldSelector: fields(req("zone", corev1.NodeSelectorOpNotIn, "eu-west-1a"))}, want: true},
		{name: "zone In without zones", c: m2, aff: &policyv1alpha1.ClusterAffinity{FieldSelector: fields(req("zone", corev1.NodeSelectorOpIn, "eu-west-1a"))}},
		{name: "deprecated zone", c: legacyZone, aff: &policyv1alpha1.ClusterAffinity{FieldSelector: fields(req("zone", corev1.NodeSelectorOpIn, "z1"))}, want: true},
		{name: "provider absent NotIn", c: legacyZone, aff: &policyv1alpha1.ClusterAffinity{FieldSelector: fields(req("provider", corev1.NodeSelectorOpNotIn, "aws"))}, want: true},
		{name: "Exists", c: m1, aff: &policyv1alpha1.ClusterAffinity{FieldSelector: fields(req("region", corev1.NodeSelectorOpExists))}, want: true},
		{name: "DoesNotExist", c: m1, aff: &policyv1alpha1.ClusterAffinity{FieldSelector: fields(req("region", corev1.NodeSelectorOpDoesNotExist))}},
		{name: "unknown key", c: m1, aff: &policyv1alpha1.ClusterAffinity{FieldSelector: fields(req("name", corev1.NodeSelectorOpIn, "member1"))}},
		{name: "unknown operator", c: m1, aff: &policyv1alpha1.ClusterAffinity{FieldSelector: fields(req("region", corev1.NodeSelectorOpGt, "1"))}},
		{name: "everything", c: m1, aff: &policyv1alpha1.ClusterAffinity{
			ClusterNames:    []string{"member1", "member2"},
			ExcludeClusters: []string{"member2"},
			LabelSelector:   &metav1.LabelSelector{MatchLabels: map[string]string{"env": "prod"}},
			FieldSelector:   fields(req("provider", corev1.NodeSelectorOpIn, "aws"), req("zone", corev1.NodeSelectorOpIn, "eu-west-1a")),
		}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ClusterMatches(tt.c, tt.aff); got != tt.want {
				t.Fatalf("ClusterMatches = %v, want %v", got, tt.want)
			}
			if got := ClusterMatches(nil, tt.aff); got != tt.wantNil {
				t.Fatalf("ClusterMatches(nil) = %v, want %v", got, tt.wantNil)
			}
		})
	}
}
