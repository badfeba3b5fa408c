package placement

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
)

func BenchmarkSchedule(b *testing.B) {
	for _, n := range []int{10, 100} {
		fleet := make([]*clusterv1alpha1.Cluster, n)
		for i := range fleet {
			opts := []clusterOpt{inRegion(fmt.Sprintf("r%d", i%4)), withRoom(int64(10 + i%7)), withLabels("env", "prod")}
			if i%10 == 9 {
				opts = append(opts, tainted("dedicated", corev1.TaintEffectNoSchedule))
			}
			fleet[i] = newCluster(fmt.Sprintf("member-%03d", i), opts...)
		}
		cases := map[string]*policyv1alpha1.Placement{
			"weighted": {
				ClusterAffinity: &policyv1alpha1.ClusterAffinity{FieldSelector: fieldIs("region", corev1.NodeSelectorOpIn, "r0", "r1", "r2")},
				SpreadConstraints: []policyv1alpha1.SpreadConstraint{
					{SpreadByField: policyv1alpha1.SpreadByFieldRegion, MinGroups: 2, MaxGroups: 3},
					{SpreadByField: policyv1alpha1.SpreadByFieldCluster, MinGroups: 2},
				},
				ReplicaScheduling: &policyv1alpha1.ReplicaSchedulingStrategy{WeightPreference: staticWeights("member-000", 3, "member-001", 2)},
			},
			"dynamic": divided("", availableReplicasWeight),
		}
		for name, p := range cases {
			b.Run(fmt.Sprintf("%s/clusters=%d", name, n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := Schedule(p, fleet, int32(5*n), oneCPU, nil); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
