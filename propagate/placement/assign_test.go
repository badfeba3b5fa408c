package placement

import (
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	workv1alpha2 "github.com/fleetgate/fleetgate/apis/work/v1alpha2"
)

func divided(pref policyv1alpha1.ReplicaDivisionPreference, wp *policyv1alpha1.ClusterPreferences) *policyv1alpha1.Placement {
	return &policyv1alpha1.Placement{ReplicaScheduling: &policyv1alpha1.ReplicaSchedulingStrategy{
		ReplicaSchedulingType: policyv1alpha1.ReplicaSchedulingTypeDivided, ReplicaDivisionPreference: pref, WeightPreference: wp}}
}

func staticWeights(kv ...any) *policyv1alpha1.ClusterPreferences {
	wp := &policyv1alpha1.ClusterPreferences{}
	for i := 0; i+1 < len(kv); i += 2 {
		wp.StaticWeightList = append(wp.StaticWeightList, policyv1alpha1.StaticClusterWeight{
			TargetCluster: policyv1alpha1.ClusterAffinity{ClusterNames: []string{kv[i].(string)}}, Weight: int64(kv[i+1].(int))})
	}
	return wp
}

var availableReplicasWeight = &policyv1alpha1.ClusterPreferences{DynamicWeight: policyv1alpha1.DynamicWeightByAvailableReplicas}

func TestReplicaDivision(t *testing.T) {
	rooms := clusters(newCluster("a", withRoom(6)), newCluster("b", withRoom(12)), newCluster("c", withRoom(18)))
	tests := []struct {
		name      string
		placement *policyv1alpha1.Placement
		clusters  []*clusterv1alpha1.Cluster
		replicas  int32
		requests  corev1.ResourceList
		previous  []workv1alpha2.TargetCluster
		want      string
		errSub    string
		excluded  map[string]string
	}{
		{name: "no replicaScheduling block: Duplicated", placement: &policyv1alpha1.Placement{}, clusters: plain("a", "b"), replicas: 1, want: "a:1 b:1"},
		{
			name:      "explicit Duplicated ignores weights",
			placement: &policyv1alpha1.Placement{ReplicaScheduling: &policyv1alpha1.ReplicaSchedulingStrategy{ReplicaSchedulingType: policyv1alpha1.ReplicaSchedulingTypeDuplicated, WeightPreference: staticWeights("a", 5)}},
			clusters:  plain("a", "b"), replicas: 3, want: "a:3 b:3",
		},
		{
			name:      "block without type: Divided, Weighted, equal weights",
			placement: &policyv1alpha1.Placement{ReplicaScheduling: &policyv1alpha1.ReplicaSchedulingStrategy{}},
			clusters:  plain("a", "b", "c"), replicas: 10, want: "a:4 b:3 c:3",
		},
		{name: "Divided without preference: Weighted", placement: divided("", nil), clusters: plain("a", "b"), replicas: 5, want: "a:3 b:2"},
		{name: "weights 1:2 of 3", placement: divided(policyv1alpha1.ReplicaDivisionPreferenceWeighted, staticWeights("a", 1, "b", 2)), clusters: plain("a", "b"), replicas: 3, want: "a:1 b:2"},
		{name: "weights 1:1:1 of 10", placement: divided(policyv1alpha1.ReplicaDivisionPreferenceWeighted, staticWeights("a", 1, "b", 1, "c", 1)), clusters: plain("a", "b", "c"), replicas: 10, want: "a:4 b:3 c:3"},
		{
			name: "a cluster's weight is the largest of its matching entries",
			placement: divided(policyv1alpha1.ReplicaDivisionPreferenceWeighted, &policyv1alpha1.ClusterPreferences{StaticWeightList: []policyv1alpha1.StaticClusterWeight{
				{TargetCluster: policyv1alpha1.ClusterAffinity{ClusterNames: []string{"a", "b"}}, Weight: 1},
				{TargetCluster: policyv1alpha1.ClusterAffinity{ClusterNames: []string{"b"}}, Weight: 3},
			}}),
			clusters: plain("a", "b"), replicas: 8, want: "a:2 b:6",
		},
		{
			name: "clusters no entry matches get nothing", placement: divided(policyv1alpha1.ReplicaDivisionPreferenceWeighted, staticWeights("a", 2)),
			clusters: plain("a", "b"), replicas: 4, want: "a:4", excluded: map[string]string{"b": "weight 0"},
		},
		{name: "no entry matches any cluster: all weigh 1", placement: divided("", staticWeights("x", 7)), clusters: plain("a", "b"), replicas: 4, want: "a:2 b:2"},
		{
			name: "more clusters than replicas", placement: divided("", nil), clusters: plain("a", "b", "c"), replicas: 2, want: "a:1 b:1",
			excluded: map[string]string{"c": "got none of 2 replicas by weight 1"},
		},
		{name: "ties go to the cluster that had more replicas", placement: divided("", nil), clusters: plain("a", "b", "c"), replicas: 1, previous: targets("c", 1), want: "c:1"},
		{name: "0 replicas: every cluster with 0 (Divided)", placement: divided("", staticWeights("a", 1)), clusters: plain("a", "b"), replicas: 0, want: "a:0 b:0"},
		{name: "0 replicas: every cluster with 0 (Duplicated)", clusters: plain("a", "b"), want: "a:0 b:0"},
		{name: "0 replicas: Aggregated needs no capacity", placement: divided(policyv1alpha1.ReplicaDivisionPreferenceAggregated, nil), clusters: plain("a", "b"), want: "a:0 b:0"},
		{name: "dynamic weight: room 6/12/18 of 12", placement: divided("", availableReplicasWeight), clusters: rooms, replicas: 12, requests: oneCPU, want: "a:2 b:4 c:6"},
		{
			name: "dynamic weight overrides staticWeightList",
			placement: divided("", &policyv1alpha1.ClusterPreferences{DynamicWeight: policyv1alpha1.DynamicWeightByAvailableReplicas,
				StaticWeightList: staticWeights("a", 100).StaticWeightList}),
			clusters: rooms, replicas: 12, requests: oneCPU, want: "a:2 b:4 c:6",
		},
		{
			name: "dynamic weight is stable once placed: previous replicas count as room", placement: divided("", availableReplicasWeight),
			clusters: clusters(newCluster("a", withRoom(4)), newCluster("b", withRoom(8)), newCluster("c", withRoom(12))),
			previous: targets("a", 2, "b", 4, "c", 6), replicas: 12, requests: oneCPU, want: "a:2 b:4 c:6",
		},
		{
			name: "dynamic weight: a cluster without resourceSummary gets nothing", placement: divided("", availableReplicasWeight),
			clusters: clusters(newCluster("a", withRoom(3)), newCluster("b")), replicas: 3, requests: oneCPU, want: "a:3",
			excluded: map[string]string{"b": "fits no more replicas"},
		},
		{
			name: "dynamic weight: not enough room", placement: divided("", availableReplicasWeight), clusters: rooms, replicas: 40, requests: oneCPU,
			errSub: "not enough free capacity: the selected clusters fit 36 of 40 replicas (c: 18, b: 12, a: 6)",
		},
		{
			name: "Aggregated: the fewest clusters, largest room first", placement: divided(policyv1alpha1.ReplicaDivisionPreferenceAggregated, nil),
			clusters: rooms, replicas: 15, requests: oneCPU, want: "c:15",
			excluded: map[string]string{"a": "not needed: Aggregated fits all 15 replicas on 1 cluster(s)", "b": "not needed"},
		},
		{
			name: "Aggregated spills over in proportion to room", placement: divided(policyv1alpha1.ReplicaDivisionPreferenceAggregated, nil),
			clusters: rooms, replicas: 20, requests: oneCPU, want: "b:8 c:12",
		},
		{
			name: "Aggregated: not enough room", placement: divided(policyv1alpha1.ReplicaDivisionPreferenceAggregated, nil),
			clusters: rooms, replicas: 37, requests: oneCPU, errSub: "fit 36 of 37 replicas",
		},
		{
			name: "Aggregated counts the pods resource", placement: divided(policyv1alpha1.ReplicaDivisionPreferenceAggregated, nil),
			clusters: rooms, replicas: 200, requests: nil, want: "a:100 b:100",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Decide(Input{Placement: tt.placement, Clusters: tt.clusters, Replicas: tt.replicas, Requests: tt.requests, Previous: tt.previous})
			if tt.errSub != "" {
				var serr *Error
				if !errors.As(err, &serr) || serr.Reason != workv1alpha2.BindingReasonUnschedulable || !strings.Contains(err.Error(), tt.errSub) {
					t.Fatalf("err = %v, want an Unschedulable *Error containing %q", err, tt.errSub)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decide: %v", err)
			}
			if got := render(r.Targets); got != tt.want {
				t.Errorf("targets = %q, want %q", got, tt.want)
			}
			checkExcluded(t, r.Excluded, tt.excluded)
			for _, e := range r.Excluded {
				for _, tc := range r.Targets {
					if tc.Name == e.Cluster {
						t.Errorf("%s is both a target and excluded (%s)", e.Cluster, e.Reason)
					}
				}
			}
		})
	}
}

func TestScheduleWrapsDecide(t *testing.T) {
	got, err := Schedule(nil, plain("b", "a"), 2, nil, nil)
	if err != nil || render(got) != "a:2 b:2" {
		t.Fatalf("Schedule = %q, %v", render(got), err)
	}
	_, err = Schedule(nil, nil, 1, nil, nil)
	var serr *Error
	if !errors.As(err, &serr) || serr.Reason != workv1alpha2.BindingReasonNoClusterFit || err.Error() != "0/0 clusters are available" {
		t.Fatalf("Schedule without clusters: %v", err)
	}
}

func TestDivide(t *testing.T) {
	mk := func(weights ...int64) []share {
		out := make([]share, len(weights))
		for i, w := range weights {
			out[i] = share{name: string(rune('a' + i)), weight: w, capacity: -1}
		}
		return out
	}
	tests := []struct {
		name   string
		total  int64
		shares []share
		want   []int64
		left   int64
	}{
		{"1:2 of 3", 3, mk(1, 2), []int64{1, 2}, 0},
		{"1:1:1 of 10", 10, mk(1, 1, 1), []int64{4, 3, 3}, 0},
		{"1:3 of 2: equal quotients go to the larger weight", 2, mk(1, 3), []int64{0, 2}, 0},
		{"5:5:4 of 1: equal weights go by name", 1, mk(5, 5, 4), []int64{1, 0, 0}, 0},
		{"largest quotient first", 1, mk(3, 4, 3), []int64{0, 1, 0}, 0},
		{"divisors 1, 3, 5: 7:2:1 of 4", 4, mk(7, 2, 1), []int64{3, 1, 0}, 0},
		{"7:2:1 of 5: a tie between quotients 7/7 and 1/1 goes to the larger weight", 5, mk(7, 2, 1), []int64{4, 1, 0}, 0},
		{"zero weight never gets a replica", 5, mk(0, 1), []int64{0, 5}, 0},
		{"all zero weights place nothing", 5, mk(0, 0), []int64{0, 0}, 5},
		{"huge weights do not overflow", 7, mk(1<<62, 1<<62, 1<<61), []int64{3, 3, 1}, 0},
		{"capacity caps and spills", 10, []share{{name: "a", weight: 9, capacity: 2}, {name: "b", weight: 1, capacity: -1}}, []int64{2, 8}, 0},
		{"capacity too small", 10, []share{{name: "a", weight: 1, capacity: 3}, {name: "b", weight: 1, capacity: 3}}, []int64{3, 3}, 4},
		{"nothing to divide", 0, mk(1, 1), []int64{0, 0}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			left := divide(tt.total, tt.shares)
			for i, s := range tt.shares {
				if s.replicas != tt.want[i] {
					t.Errorf("share %s = %d, want %d (all: %+v)", s.name, s.replicas, tt.want[i], tt.shares)
				}
			}
			if left != tt.left {
				t.Errorf("left = %d, want %d", left, tt.left)
			}
		})
	}
}
