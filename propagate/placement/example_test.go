package placement_test

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	"github.com/fleetgate/fleetgate/propagate/placement"
)

func ExampleDecide() {
	ready := []metav1.Condition{{Type: clusterv1alpha1.ClusterConditionReady, Status: metav1.ConditionTrue}}
	member := func(name string) *clusterv1alpha1.Cluster {
		return &clusterv1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: clusterv1alpha1.ClusterStatus{Conditions: ready}}
	}
	p := &policyv1alpha1.Placement{
		ClusterAffinity: &policyv1alpha1.ClusterAffinity{ClusterNames: []string{"member1", "member2"}},
		ReplicaScheduling: &policyv1alpha1.ReplicaSchedulingStrategy{WeightPreference: &policyv1alpha1.ClusterPreferences{
			StaticWeightList: []policyv1alpha1.StaticClusterWeight{
				{TargetCluster: policyv1alpha1.ClusterAffinity{ClusterNames: []string{"member1"}}, Weight: 1},
				{TargetCluster: policyv1alpha1.ClusterAffinity{ClusterNames: []string{"member2"}}, Weight: 2},
			},
		}},
	}
	r, err := placement.Decide(placement.Input{
		Placement: p,
		Clusters:  []*clusterv1alpha1.Cluster{member("member1"), member("member2"), member("member3")},
		Replicas:  3,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, t := range r.Targets {
		fmt.Printf("%s: %d\n", t.Name, t.Replicas)
	}
	for _, e := range r.Excluded {
		fmt.Printf("%s excluded: %s\n", e.Cluster, e.Reason)
	}

	// Output:
	// member1: 1
	// member2: 2
	// member3 excluded: not in clusterAffinity.clusterNames
}
