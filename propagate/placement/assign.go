package placement

import (
	"fmt"
	"sort"
	"strings"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	workv1alpha2 "github.com/fleetgate/fleetgate/apis/work/v1alpha2"
	"github.com/fleetgate/fleetgate/propagate/selector"
)

// mode is how replicas are assigned to the chosen clusters.
type mode int

const (
	duplicated mode = iota // every cluster gets all replicas
	weighted               // Divided, in proportion to static weights (equal without a list)
	dynamic                // Divided, in proportion to the replicas each cluster can still fit
	aggregated             // Divided, as few clusters as possible, largest room first
)

func (m mode) capacityAware() bool { return m == dynamic || m == aggregated }

// strategyOf applies Karmada's defaults: no replicaScheduling block is Duplicated; a block without
// type is Divided; Divided without preference is Weighted; Weighted without weightPreference
// weighs every cluster the same; dynamicWeight overrides staticWeightList.
func strategyOf(rs *policyv1alpha1.ReplicaSchedulingStrategy) (mode, error) {
	if rs == nil {
		return duplicated, nil
	}
	switch rs.ReplicaSchedulingType {
	case policyv1alpha1.ReplicaSchedulingTypeDuplicated:
		return duplicated, nil
	case "", policyv1alpha1.ReplicaSchedulingTypeDivided:
	default:
		return 0, fmt.Errorf("placement: unknown replicaSchedulingType %q", rs.ReplicaSchedulingType)
	}
	switch rs.ReplicaDivisionPreference {
	case policyv1alpha1.ReplicaDivisionPreferenceAggregated:
		return aggregated, nil
	case "", policyv1alpha1.ReplicaDivisionPreferenceWeighted:
	default:
		return 0, fmt.Errorf("placement: unknown replicaDivisionPreference %q", rs.ReplicaDivisionPreference)
	}
	if wp := rs.WeightPreference; wp != nil {
		switch wp.DynamicWeight {
		case policyv1alpha1.DynamicWeightByAvailableReplicas:
			return dynamic, nil
		case "":
		default:
			return 0, fmt.Errorf("placement: unknown dynamicWeight %q", wp.DynamicWeight)
		}
	}
	return weighted, nil
}

// assign gives the chosen clusters their replicas; clusters left with none of a workload's
// replicas are added to excluded.
func (s *scheduler) assign(chosen []*candidate, excluded map[string]string) ([]workv1alpha2.TargetCluster, error) {
	replicas := s.in.Replicas
	if replicas == 0 || s.mode == duplicated {
		return targetsOf(chosen, replicas, func(*candidate) int32 { return replicas }), nil
	}
	var shares []share
	switch s.mode {
	case weighted:
		shares = s.staticShares(chosen)
	case dynamic:
		if err := enoughRoom(chosen, replicas); err != nil {
			return nil, err
		}
		shares = roomShares(chosen)
	case aggregated:
		if err := enoughRoom(chosen, replicas); err != nil {
			return nil, err
		}
		chosen = fewest(chosen, replicas, excluded)
		shares = roomShares(chosen)
	}
	if left := divide(int64(replicas), shares); left > 0 {
		return nil, fmt.Errorf("could not place %d of %d replicas", left, replicas)
	}
	got := make(map[string]int32, len(shares))
	for _, sh := range shares {
		got[sh.name] = int32(sh.replicas)
		if sh.replicas == 0 {
			excluded[sh.name] = zeroReason(s.mode, sh, replicas)
		}
	}
	return targetsOf(chosen, replicas, func(c *candidate) int32 { return got[c.name()] }), nil
}

func zeroReason(m mode, sh share, replicas int32) string {
	switch {
	case m == weighted && sh.weight == 0:
		return "weight 0: no weightPreference.staticWeightList entry matches it"
	case m == weighted:
		return fmt.Sprintf("got none of %d replicas by weight %d", replicas, sh.weight)
	case sh.weight == 0:
		return "fits no more replicas (status.resourceSummary)"
	default:
		return fmt.Sprintf("got none of %d replicas in proportion to its room for %d", replicas, sh.weight)
	}
}

// targetsOf lists the chosen clusters with their replicas, sorted by name. For a workload
// (replicas > 0) clusters that get none are left out; objects without replicas keep every cluster.
func targetsOf(chosen []*candidate, replicas int32, of func(*candidate) int32) []workv1alpha2.TargetCluster {
	var out []workv1alpha2.TargetCluster
	for _, c := range chosen {
		r := of(c)
		if r == 0 && replicas > 0 {
			continue
		}
		out = append(out, workv1alpha2.TargetCluster{Name: c.name(), Replicas: r})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// staticShares weighs each cluster by the largest weight of the staticWeightList entries that
// match it; when none matches any chosen cluster (or there is no list), all weigh 1.
func (s *scheduler) staticShares(chosen []*candidate) []share {
	var list []policyv1alpha1.StaticClusterWeight
	if wp := s.placement.ReplicaScheduling.WeightPreference; wp != nil {
		list = wp.StaticWeightList
	}
	shares := make([]share, len(chosen))
	anyWeight := false
	for i, c := range chosen {
		shares[i] = share{name: c.name(), capacity: -1, previous: c.previous}
		for j := range list {
			if selector.ClusterMatches(c.cluster, &list[j].TargetCluster) {
				shares[i].weight = max(shares[i].weight, list[j].Weight)
			}
		}
		anyWeight = anyWeight || shares[i].weight > 0
	}
	if !anyWeight {
		for i := range shares {
			shares[i].weight = 1
		}
	}
	return shares
}

// roomShares weighs each cluster by its room and caps it there.
func roomShares(chosen []*candidate) []share {
	shares := make([]share, len(chosen))
	for i, c := range chosen {
		shares[i] = share{name: c.name(), weight: c.room, capacity: c.room, previous: c.previous}
	}
	return shares
}

// enoughRoom fails when the chosen clusters cannot fit replicas together.
func enoughRoom(chosen []*candidate, replicas int32) error {
	var sum int64
	parts := make([]string, len(chosen))
	for i, c := range chosen {
		sum += c.room
		parts[i] = fmt.Sprintf("%s: %d", c.name(), c.room)
	}
	if sum >= int64(replicas) {
		return nil
	}
	return fmt.Errorf("not enough free capacity: the selected clusters fit %d of %d replicas (%s)", sum, replicas, strings.Join(parts, ", "))
}

// fewest keeps the smallest prefix of the clusters, largest room first, that fits replicas; the
// rest are excluded.
func fewest(chosen []*candidate, replicas int32, excluded map[string]string) []*candidate {
	byRoom := append([]*candidate(nil), chosen...)
	sort.SliceStable(byRoom, func(i, j int) bool {
		a, b := byRoom[i], byRoom[j]
		if a.room != b.room {
			return a.room > b.room
		}
		if a.previous != b.previous {
			return a.previous > b.previous
		}
		return a.name() < b.name()
	})
	var sum int64
	n := 0
	for n < len(byRoom) && sum < int64(replicas) {
		sum += byRoom[n].room
		n++
	}
	for _, c := range byRoom[n:] {
		excluded[c.name()] = fmt.Sprintf("not needed: Aggregated fits all %d replicas on %d cluster(s) with more room", replicas, n)
	}
	return byRoom[:n]
}
