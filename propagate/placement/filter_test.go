package placement

import (
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	workv1alpha2 "github.com/fleetgate/fleetgate/apis/work/v1alpha2"
)

func affinity(a policyv1alpha1.ClusterAffinity) *policyv1alpha1.Placement {
	return &policyv1alpha1.Placement{ClusterAffinity: &a}
}

func fieldIs(key string, op corev1.NodeSelectorOperator, values ...string) *policyv1alpha1.FieldSelector {
	return &policyv1alpha1.FieldSelector{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: key, Operator: op, Values: values}}}
}

func TestClusterAffinity(t *testing.T) {
	fleet := clusters(
		newCluster("a", withLabels("env", "prod"), inRegion("eu"), byProvider("aws"), inZones("eu-1", "eu-2")),
		newCluster("b", withLabels("env", "prod"), inRegion("us"), byProvider("gcp"), inZones("us-1")),
		newCluster("c", withLabels("env", "dev"), inRegion("eu"), byProvider("gcp")),
	)
	tests := []struct {
		name      string
		placement *policyv1alpha1.Placement
		want      string
		excluded  map[string]string // cluster → substring of its reason
	}{
		{name: "no placement: every cluster", want: "a:3 b:3 c:3"},
		{name: "empty affinity: every cluster", placement: affinity(policyv1alpha1.ClusterAffinity{}), want: "a:3 b:3 c:3"},
		{
			name: "clusterNames", placement: affinity(policyv1alpha1.ClusterAffinity{ClusterNames: []string{"a", "c", "missing"}}),
			want: "a:3 c:3", excluded: map[string]string{"b": "not in clusterAffinity.clusterNames"},
		},
		{
			name: "exclude is removed first", placement: affinity(policyv1alpha1.ClusterAffinity{ClusterNames: []string{"a", "c"}, ExcludeClusters: []string{"a"}}),
			want: "c:3", excluded: map[string]string{"a": "clusterAffinity.exclude lists it", "b": "clusterNames"},
		},
		{
			name:      "labelSelector",
			placement: affinity(policyv1alpha1.ClusterAffinity{LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"env": "prod"}}}),
			want:      "a:3 b:3", excluded: map[string]string{"c": `labels do not match clusterAffinity.labelSelector "env=prod"`},
		},
		{
			name: "fieldSelector region In", placement: affinity(policyv1alpha1.ClusterAffinity{FieldSelector: fieldIs("region", corev1.NodeSelectorOpIn, "eu")}),
			want: "a:3 c:3", excluded: map[string]string{"b": "region [us] does not match clusterAffinity.fieldSelector.matchExpressions[0] (region In [eu])"},
		},
		{
			name: "fieldSelector provider NotIn", placement: affinity(policyv1alpha1.ClusterAffinity{FieldSelector: fieldIs("provider", corev1.NodeSelectorOpNotIn, "gcp")}),
			want: "a:3",
		},
		{
			name: "fieldSelector zone matches any of spec.zones", placement: affinity(policyv1alpha1.ClusterAffinity{FieldSelector: fieldIs("zone", corev1.NodeSelectorOpIn, "eu-2")}),
			want: "a:3", excluded: map[string]string{"c": "zone [] does not match"},
		},
		{
			name: "fieldSelector zone NotIn excludes a cluster with any listed zone", placement: affinity(policyv1alpha1.ClusterAffinity{FieldSelector: fieldIs("zone", corev1.NodeSelectorOpNotIn, "eu-2")}),
			want: "b:3 c:3",
		},
		{
			name: "non-empty filters are ANDed",
			placement: affinity(policyv1alpha1.ClusterAffinity{
				ClusterNames:  []string{"a", "b", "c"},
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"env": "prod"}},
				FieldSelector: fieldIs("provider", corev1.NodeSelectorOpIn, "gcp"),
			}),
			want: "b:3",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Decide(Input{Placement: tt.placement, Clusters: fleet, Replicas: 3})
			if err != nil {
				t.Fatalf("Decide: %v", err)
			}
			if got := render(r.Targets); got != tt.want {
				t.Errorf("targets = %q, want %q", got, tt.want)
			}
			checkExcluded(t, r.Excluded, tt.excluded)
		})
	}
}

func checkExcluded(t *testing.T, got []Exclusion, want map[string]string) {
	t.Helper()
	reasons := map[string]string{}
	for _, e := range got {
		reasons[e.Cluster] = e.Reason
	}
	for name, sub := range want {
		if !strings.Contains(reasons[name], sub) {
			t.Errorf("exclusion of %s = %q, want it to contain %q", name, reasons[name], sub)
		}
	}
}

func TestClusterAffinities(t *testing.T) {
	fleet := clusters(newCluster("a", inRegion("eu")), newCluster("b", inRegion("us"), notReady), newCluster("c", inRegion("us")))
	group := func(name string, names ...string) policyv1alpha1.ClusterAffinityTerm {
		return policyv1alpha1.ClusterAffinityTerm{AffinityName: name, ClusterAffinity: policyv1alpha1.ClusterAffinity{ClusterNames: names}}
	}
	tests := []struct {
		name     string
		groups   []policyv1alpha1.ClusterAffinityTerm
		spread   []policyv1alpha1.SpreadConstraint
		previous []workv1alpha2.TargetCluster
		want     string
		affinity string
		errSub   []string
	}{
		{name: "the first group wins", groups: []policyv1alpha1.ClusterAffinityTerm{group("primary", "a"), group("backup", "c")}, want: "a:2", affinity: "primary"},
		{name: "a group without clusters falls through", groups: []policyv1alpha1.ClusterAffinityTerm{group("primary", "x"), group("backup", "c")}, want: "c:2", affinity: "backup"},
		{name: "a group of not-ready clusters falls through", groups: []policyv1alpha1.ClusterAffinityTerm{group("primary", "b"), group("backup", "a", "c")}, want: "a:2 c:2", affinity: "backup"},
		{
			name: "a not-ready cluster already placed keeps its group usable", previous: targets("b", 2),
			groups: []policyv1alpha1.ClusterAffinityTerm{group("primary", "b"), group("backup", "a")}, want: "b:2", affinity: "primary",
		},
		{
			name: "a group that cannot meet the spread constraints falls through", spread: []policyv1alpha1.SpreadConstraint{{MinGroups: 2}},
			groups: []policyv1alpha1.ClusterAffinityTerm{group("primary", "a"), group("backup", "a", "c")}, want: "a:2 c:2", affinity: "backup",
		},
		{
			name:   "no group usable",
			groups: []policyv1alpha1.ClusterAffinityTerm{group("primary", "b"), group("backup", "x")},
			errSub: []string{"no clusterAffinities group is usable", "clusterAffinities[0] (primary): 0/3 clusters are available", "b: untolerated taint cluster.karmada.io/not-ready:NoSchedule", "clusterAffinities[1] (backup)", "not in clusterAffinities[1].clusterNames"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &policyv1alpha1.Placement{ClusterAffinities: tt.groups, SpreadConstraints: tt.spread}
			r, err := Decide(Input{Placement: p, Clusters: fleet, Replicas: 2, Previous: tt.previous})
			if len(tt.errSub) > 0 {
				var serr *Error
				if !errors.As(err, &serr) || serr.Reason != workv1alpha2.BindingReasonNoClusterFit {
					t.Fatalf("err = %v, want a NoClusterFit *Error", err)
				}
				for _, sub := range tt.errSub {
					if !strings.Contains(err.Error(), sub) {
						t.Errorf("error %q does not contain %q", err, sub)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Decide: %v", err)
			}
			if got := render(r.Targets); got != tt.want || r.AffinityName != tt.affinity {
				t.Errorf("targets = %q in group %q, want %q in %q", got, r.AffinityName, tt.want, tt.affinity)
			}
		})
	}
}

func TestTaintsAndReadiness(t *testing.T) {
	noSchedule := func(key string) clusterOpt { return tainted(key, corev1.TaintEffectNoSchedule) }
	noExecute := func(key string) clusterOpt { return tainted(key, corev1.TaintEffectNoExecute) }
	tolerate := func(key string, effect corev1.TaintEffect) []corev1.Toleration {
		return []corev1.Toleration{{Key: key, Operator: corev1.TolerationOpExists, Effect: effect}}
	}
	tests := []struct {
		name        string
		cluster     *clusterv1alpha1.Cluster
		tolerations []corev1.Toleration
		placed      bool
		want        bool
		reason      string
	}{
		{name: "untainted", cluster: newCluster("x"), want: true},
		{name: "NoSchedule keeps a new placement off", cluster: newCluster("x", noSchedule("dedicated")), reason: "untolerated taint dedicated=true:NoSchedule"},
		{name: "NoSchedule keeps an existing placement", cluster: newCluster("x", noSchedule("dedicated")), placed: true, want: true},
		{name: "NoSchedule tolerated", cluster: newCluster("x", noSchedule("dedicated")), tolerations: tolerate("dedicated", ""), want: true},
		{
			name: "toleration value must equal", cluster: newCluster("x", noSchedule("dedicated")),
			tolerations: []corev1.Toleration{{Key: "dedicated", Value: "false"}}, reason: "dedicated=true:NoSchedule",
		},
		{name: "toleration for another effect does not help", cluster: newCluster("x", noSchedule("dedicated")), tolerations: tolerate("dedicated", corev1.TaintEffectNoExecute), reason: "NoSchedule"},
		{name: "NoExecute removes an existing placement", cluster: newCluster("x", noExecute("evict")), placed: true, reason: "untolerated taint evict=true:NoExecute"},
		{name: "NoExecute tolerated", cluster: newCluster("x", noExecute("evict")), placed: true, tolerations: tolerate("", ""), want: true},
		{name: "PreferNoSchedule is ignored", cluster: newCluster("x", tainted("soft", corev1.TaintEffectPreferNoSchedule)), want: true},
		{name: "not ready without the taint written yet", cluster: newCluster("x", notReady), reason: "cluster.karmada.io/not-ready:NoSchedule"},
		{name: "no Ready condition at all", cluster: func() *clusterv1alpha1.Cluster { c := newCluster("x"); c.Status.Conditions = nil; return c }(), reason: "not-ready"},
		{name: "not ready with the taint written is listed once", cluster: newCluster("x", notReady, noSchedule(clusterv1alpha1.TaintClusterNotReady)), reason: "untolerated taint cluster.karmada.io/not-ready=true:NoSchedule"},
		{name: "not ready keeps an existing placement", cluster: newCluster("x", notReady), placed: true, want: true},
		{name: "not ready tolerated", cluster: newCluster("x", notReady), tolerations: tolerate(clusterv1alpha1.TaintClusterNotReady, corev1.TaintEffectNoSchedule), want: true},
		{name: "a terminating cluster loses existing placements", cluster: newCluster("x", terminating), placed: true, reason: "cluster.karmada.io/terminating:NoExecute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var prev []workv1alpha2.TargetCluster
			if tt.placed {
				prev = targets("x", 1)
			}
			p := &policyv1alpha1.Placement{ClusterTolerations: tt.tolerations}
			r, err := Decide(Input{Placement: p, Clusters: clusters(tt.cluster), Replicas: 1, Previous: prev})
			if tt.want {
				if err != nil || render(r.Targets) != "x:1" {
					t.Fatalf("Decide = %q, %v; want x:1", render(r.Targets), err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Decide = %q, want an error", render(r.Targets))
			}
			if want := "0/1 clusters are available: x: "; !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q, want it to contain %q and %q", err, want, tt.reason)
			}
			if c := tt.cluster.Spec.Taints; len(c) > 1 {
				t.Errorf("Decide modified the cluster's taints: %v", c)
			}
		})
	}
}

func TestDecideRejectsMalformedInput(t *testing.T) {
	tests := []struct {
		name     string
		in       Input
		contains string
	}{
		{name: "negative replicas", in: Input{Replicas: -1}, contains: "negative"},
		{
			name: "clusterAffinity with clusterAffinities",
			in: Input{Placement: &policyv1alpha1.Placement{ClusterAffinity: &policyv1alpha1.ClusterAffinity{},
				ClusterAffinities: []policyv1alpha1.ClusterAffinityTerm{{AffinityName: "x"}}}},
			contains: "mutually exclusive",
		},
		{
			name:     "unknown replicaSchedulingType",
			in:       Input{Placement: &policyv1alpha1.Placement{ReplicaScheduling: &policyv1alpha1.ReplicaSchedulingStrategy{ReplicaSchedulingType: "Sometimes"}}},
			contains: `unknown replicaSchedulingType "Sometimes"`,
		},
		{
			name: "invalid labelSelector",
			in: Input{Clusters: plain("a"), Placement: affinity(policyv1alpha1.ClusterAffinity{LabelSelector: &metav1.LabelSelector{
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "k", Operator: "Bogus"}}}})},
			contains: "a: clusterAffinity.labelSelector is invalid",
		},
		{
			name:     "unknown spreadByField",
			in:       Input{Clusters: plain("a"), Placement: &policyv1alpha1.Placement{SpreadConstraints: []policyv1alpha1.SpreadConstraint{{SpreadByField: "rack"}}}},
			contains: `unknown spreadByField "rack"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decide(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.contains) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.contains)
			}
		})
	}
}
