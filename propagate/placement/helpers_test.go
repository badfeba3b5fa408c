package placement

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	workv1alpha2 "github.com/fleetgate/fleetgate/apis/work/v1alpha2"
)

type clusterOpt func(*clusterv1alpha1.Cluster)

// newCluster is a Ready cluster with the options applied.
func newCluster(name string, opts ...clusterOpt) *clusterv1alpha1.Cluster {
	c := &clusterv1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: name}}
	c.Status.Conditions = []metav1.Condition{{Type: clusterv1alpha1.ClusterConditionReady, Status: metav1.ConditionTrue}}
	for _, o := range opts {
		o(c)
	}
	return c
}

func withLabels(kv ...string) clusterOpt {
	return func(c *clusterv1alpha1.Cluster) {
		c.Labels = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			c.Labels[kv[i]] = kv[i+1]
		}
	}
}

func inRegion(r string) clusterOpt   { return func(c *clusterv1alpha1.Cluster) { c.Spec.Region = r } }
func byProvider(p string) clusterOpt { return func(c *clusterv1alpha1.Cluster) { c.Spec.Provider = p } }
func inZones(z ...string) clusterOpt { return func(c *clusterv1alpha1.Cluster) { c.Spec.Zones = z } }

func tainted(key string, effect corev1.TaintEffect) clusterOpt {
	return func(c *clusterv1alpha1.Cluster) {
		c.Spec.Taints = append(c.Spec.Taints, corev1.Taint{Key: key, Value: "true", Effect: effect})
	}
}

func notReady(c *clusterv1alpha1.Cluster) {
	c.Status.Conditions = []metav1.Condition{{Type: clusterv1alpha1.ClusterConditionReady, Status: metav1.ConditionFalse}}
}

func terminating(c *clusterv1alpha1.Cluster) { c.DeletionTimestamp = &metav1.Time{} }

// withRoom gives the cluster free capacity for n pods of 1 CPU / 1Gi (and a bit to spare that
// does not fit another one).
func withRoom(n int64) clusterOpt {
	return func(c *clusterv1alpha1.Cluster) {
		c.Status.ResourceSummary = &clusterv1alpha1.ResourceSummary{
			Allocatable: corev1.ResourceList{
				corev1.ResourceCPU:    *resource.NewMilliQuantity(2000+n*1000+500, resource.DecimalSI),
				corev1.ResourceMemory: *resource.NewQuantity((n+1)<<30, resource.BinarySI),
				corev1.ResourcePods:   *resource.NewQuantity(110, resource.DecimalSI),
			},
			Allocated: corev1.ResourceList{
				corev1.ResourceCPU:  resource.MustParse("1"),
				corev1.ResourcePods: *resource.NewQuantity(5, resource.DecimalSI),
			},
			Allocating: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse("1"),
				corev1.ResourceMemory: resource.MustParse("1Gi"),
			},
		}
	}
}

// oneCPU is the per-replica request used with withRoom.
var oneCPU = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1Gi")}

func clusters(cs ...*clusterv1alpha1.Cluster) []*clusterv1alpha1.Cluster { return cs }

// names is "a b c" for clusters a, b, c.
func plain(names ...string) []*clusterv1alpha1.Cluster {
	out := make([]*clusterv1alpha1.Cluster, len(names))
	for i, n := range names {
		out[i] = newCluster(n)
	}
	return out
}

// render is "a:1 b:2" for targets, for easy comparison.
func render(ts []workv1alpha2.TargetCluster) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = fmt.Sprintf("%s:%d", t.Name, t.Replicas)
	}
	return strings.Join(parts, " ")
}

func targets(kv ...any) []workv1alpha2.TargetCluster {
	var out []workv1alpha2.TargetCluster
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, workv1alpha2.TargetCluster{Name: kv[i].(string), Replicas: int32(kv[i+1].(int))})
	}
	return out
}
