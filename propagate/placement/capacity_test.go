package placement

import (
	"math"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
)

func TestAvailableReplicas(t *testing.T) {
	summary := func(alloc, allocated, allocating corev1.ResourceList) clusterOpt {
		return func(c *clusterv1alpha1.Cluster) {
			c.Status.ResourceSummary = &clusterv1alpha1.ResourceSummary{Allocatable: alloc, Allocated: allocated, Allocating: allocating}
		}
	}
	list := func(kv ...string) corev1.ResourceList {
		l := corev1.ResourceList{}
		for i := 0; i+1 < len(kv); i += 2 {
			l[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
		}
		return l
	}
	tests := []struct {
		name     string
		cluster  *clusterv1alpha1.Cluster
		requests corev1.ResourceList
		want     int64
	}{
		{name: "no resourceSummary fits nothing", cluster: newCluster("x"), requests: list("cpu", "1"), want: 0},
		{name: "withRoom helper", cluster: newCluster("x", withRoom(6)), requests: oneCPU, want: 6},
		{name: "the scarcest resource wins", cluster: newCluster("x", summary(list("cpu", "8", "memory", "4Gi", "pods", "110"), nil, nil)), requests: list("cpu", "1", "memory", "1Gi"), want: 4},
		{name: "allocated and allocating are taken off", cluster: newCluster("x", summary(list("cpu", "8", "pods", "110"), list("cpu", "2"), list("cpu", "1500m"))), requests: list("cpu", "500m"), want: 9},
		{name: "pods count one per replica", cluster: newCluster("x", summary(list("cpu", "100", "pods", "10"), list("pods", "7"), nil)), requests: list("cpu", "1"), want: 3},
		{name: "explicit pods request", cluster: newCluster("x", summary(list("pods", "10"), nil, nil)), requests: list("pods", "2"), want: 5},
		{name: "no requests: only pods", cluster: newCluster("x", summary(list("pods", "10"), nil, nil)), want: 10},
		{name: "no pods in allocatable fits nothing", cluster: newCluster("x", summary(list("cpu", "10"), nil, nil)), requests: list("cpu", "1"), want: 0},
		{name: "a requested resource the cluster lacks", cluster: newCluster("x", summary(list("cpu", "10", "pods", "10"), nil, nil)), requests: list("nvidia.com/gpu", "1"), want: 0},
		{name: "over-committed is zero, not negative", cluster: newCluster("x", summary(list("cpu", "1", "pods", "10"), list("cpu", "3"), nil)), requests: list("cpu", "1"), want: 0},
		{name: "zero requests are ignored", cluster: newCluster("x", summary(list("pods", "4"), nil, nil)), requests: list("cpu", "0"), want: 4},
		{name: "capped at MaxInt32", cluster: newCluster("x", summary(list("memory", "8Ei", "pods", "1e12"), nil, nil)), requests: list("memory", "1"), want: math.MaxInt32},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := AvailableReplicas(tt.cluster, tt.requests); got != tt.want {
				t.Errorf("AvailableReplicas = %d, want %d", got, tt.want)
			}
		})
	}
}
