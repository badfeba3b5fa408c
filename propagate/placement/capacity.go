package placement

import (
	"math"
	"math/big"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
)

// AvailableReplicas is how many more replicas with the per-replica requests c can fit, from its
// status.resourceSummary: for every requested resource, (allocatable − allocated − allocating) /
// request, the smallest wins. Each replica is one pod, so the "pods" resource counts 1 per replica
// unless requests says otherwise. A cluster without a resourceSummary, or without a requested
// resource in its allocatable, fits none (as in Karmada). The result is at most math.MaxInt32.
func AvailableReplicas(c *clusterv1alpha1.Cluster, requests corev1.ResourceList) int64 {
	rs := c.Status.ResourceSummary
	if rs == nil {
		return 0
	}
	fit := int64(math.MaxInt32)
	consider := func(name corev1.ResourceName, req resource.Quantity) {
		if req.Sign() <= 0 || fit == 0 {
			return
		}
		alloc, ok := rs.Allocatable[name]
		if !ok {
			fit = 0
			return
		}
		free := alloc.DeepCopy()
		if q, ok := rs.Allocated[name]; ok {
			free.Sub(q)
		}
		if q, ok := rs.Allocating[name]; ok {
			free.Sub(q)
		}
		fit = min(fit, quotient(free, req))
	}
	if _, ok := requests[corev1.ResourcePods]; !ok {
		consider(corev1.ResourcePods, *resource.NewQuantity(1, resource.DecimalSI))
	}
	for name, req := range requests {
		consider(name, req)
	}
	return fit
}

// quotient is floor(free / req) for req > 0, 0 when free ≤ 0, capped at math.MaxInt32. It is
// exact for any quantities (milli-CPU, exabytes of memory).
func quotient(free, req resource.Quantity) int64 {
	if free.Sign() <= 0 {
		return 0
	}
	if f, ok := free.AsInt64(); ok {
		if r, ok := req.AsInt64(); ok && r > 0 {
			return min(f/r, math.MaxInt32)
		}
	}
	q := new(big.Rat).Quo(toRat(free), toRat(req))
	n := new(big.Int).Quo(q.Num(), q.Denom())
	if !n.IsInt64() || n.Int64() > math.MaxInt32 {
		return math.MaxInt32
	}
	return n.Int64()
}

func toRat(q resource.Quantity) *big.Rat {
	d := q.AsDec()
	r := new(big.Rat).SetInt(d.UnscaledBig())
	scale := int64(d.Scale())
	pow := new(big.Int).Exp(big.NewInt(10), big.NewInt(max(scale, -scale)), nil)
	if scale > 0 {
		return r.Quo(r, new(big.Rat).SetInt(pow))
	}
	return r.Mul(r, new(big.Rat).SetInt(pow))
}
