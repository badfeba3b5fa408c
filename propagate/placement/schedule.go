package placement

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	workv1alpha2 "github.com/fleetgate/fleetgate/apis/work/v1alpha2"
)

// Input is everything a scheduling decision depends on.
type Input struct {
	// Placement of the claiming policy; nil means every cluster, Duplicated.
	Placement *policyv1alpha1.Placement
	// Clusters are the member clusters (order does not matter; nil entries are skipped).
	Clusters []*clusterv1alpha1.Cluster
	// Replicas of the workload; 0 for objects without replicas.
	Replicas int32
	// Requests of one replica (see ReplicaRequirements); used by dynamic weights and Aggregated.
	Requests corev1.ResourceList
	// Previous is the last scheduling result (ResourceBinding spec.clusters). A cluster listed
	// here keeps the object despite NoSchedule taints, is preferred when constraints must choose,
	// and breaks ties in the division.
	Previous []workv1alpha2.TargetCluster
}

// Result is a scheduling decision.
type Result struct {
	// Targets are the chosen clusters and their replicas, sorted by name.
	Targets []workv1alpha2.TargetCluster
	// AffinityName is the clusterAffinities group that was used; empty with clusterAffinity.
	AffinityName string
	// Excluded lists every other cluster and why it is not a target, sorted by name.
	Excluded []Exclusion
}

// Exclusion says why one cluster is not a target.
type Exclusion struct {
	Cluster string
	Reason  string
}

// Error is a scheduling failure: the placement cannot be satisfied with these clusters.
type Error struct {
	// Reason is the binding's Scheduled condition reason: workv1alpha2.BindingReasonNoClusterFit
	// (no cluster passes the filters) or workv1alpha2.BindingReasonUnschedulable (spread
	// constraints or capacity cannot be met).
	Reason string
	// Message names the clusters and the filters or constraints that ruled them out.
	Message string
	// Excluded lists every cluster and why it was ruled out, sorted by name.
	Excluded []Exclusion
}

func (e *Error) Error() string { return e.Message }

// Schedule picks the target clusters of placement and divides replicas among them; see Decide.
func Schedule(placement *policyv1alpha1.Placement, clusters []*clusterv1alpha1.Cluster, replicas int32,
	requests corev1.ResourceList, previous []workv1alpha2.TargetCluster) ([]workv1alpha2.TargetCluster, error) {
	r, err := Decide(Input{Placement: placement, Clusters: clusters, Replicas: replicas, Requests: requests, Previous: previous})
	if err != nil {
		return nil, err
	}
	return r.Targets, nil
}

// Decide schedules in's object. Filters (KARMADA-COMPAT.md "Placement"): cluster affinity (or the
// first usable group of clusterAffinities), then taints against clusterTolerations (a not-ready
// cluster counts as tainted cluster.karmada.io/not-ready:NoSchedule), then spread constraints;
// then the replicas are divided. A cluster that gets 0 replicas of a workload is not a target;
// objects without replicas go to every chosen cluster with 0. Failures are *Error (with the
// per-cluster reasons); a malformed placement is a plain error. The Result is filled as far as
// scheduling got, also on failure.
func Decide(in Input) (Result, error) {
	if in.Replicas < 0 {
		return Result{}, fmt.Errorf("replicas must not be negative, got %d", in.Replicas)
	}
	p := in.Placement
	if p == nil {
		p = &policyv1alpha1.Placement{}
	}
	if p.ClusterAffinity != nil && len(p.ClusterAffinities) > 0 {
		return Result{}, errors.New("placement: clusterAffinity and clusterAffinities are mutually exclusive")
	}
	mode, err := strategyOf(p.ReplicaScheduling)
	if err != nil {
		return Result{}, err
	}
	s := &scheduler{in: in, placement: p, mode: mode, previous: map[string]int32{}}
	for _, c := range in.Clusters {
		if c != nil {
			s.clusters = append(s.clusters, c)
		}
	}
	sort.Slice(s.clusters, func(i, j int) bool { return s.clusters[i].Name < s.clusters[j].Name })
	for _, t := range in.Previous {
		s.previous[t.Name] = t.Replicas
	}

	if len(p.ClusterAffinities) == 0 {
		return s.scheduleTerm(term{path: "clusterAffinity", affinity: p.ClusterAffinity})
	}
	var (
		first    Result
		failures []string
		reason   = workv1alpha2.BindingReasonNoClusterFit
	)
	for i := range p.ClusterAffinities {
		t := &p.ClusterAffinities[i]
		r, err := s.scheduleTerm(term{path: fmt.Sprintf("clusterAffinities[%d]", i), affinity: &t.ClusterAffinity})
		if err == nil {
			r.AffinityName = t.AffinityName
			return r, nil
		}
		var serr *Error
		if !errors.As(err, &serr) {
			return r, err
		}
		if i == 0 {
			first = r
		}
		if serr.Reason != workv1alpha2.BindingReasonNoClusterFit {
			reason = serr.Reason
		}
		failures = append(failures, fmt.Sprintf("clusterAffinities[%d] (%s): %s", i, t.AffinityName, serr.Message))
	}
	return first, &Error{Reason: reason, Excluded: first.Excluded,
		Message: "no clusterAffinities group is usable: " + strings.Join(failures, "; ")}
}

// term is one cluster affinity being tried.
type term struct {
	path     string
	affinity *policyv1alpha1.ClusterAffinity
}

type scheduler struct {
	in        Input
	placement *policyv1alpha1.Placement
	mode      mode
	clusters  []*clusterv1alpha1.Cluster // sorted by name
	previous  map[string]int32
}

// candidate is a cluster that passed the filters.
type candidate struct {
	cluster  *clusterv1alpha1.Cluster
	placed   bool  // listed in Input.Previous
	previous int32 // replicas it had
	room     int64 // replicas this object may have there (capacity-aware modes), else 0
}

func (c *candidate) name() string { return c.cluster.Name }

func (s *scheduler) scheduleTerm(t term) (Result, error) {
	excluded := map[string]string{}
	var cands []*candidate
	for _, c := range s.clusters {
		prev, placed := s.previous[c.Name]
		reason := affinityMismatch(c, t.affinity, t.path)
		if reason == "" {
			reason = taintMismatch(c, s.placement.ClusterTolerations, placed)
		}
		if reason != "" {
			excluded[c.Name] = reason
			continue
		}
		cands = append(cands, &candidate{cluster: c, placed: placed, previous: prev})
	}
	if len(cands) == 0 {
		ex := exclusions(excluded)
		return Result{Excluded: ex}, &Error{Reason: workv1alpha2.BindingReasonNoClusterFit, Excluded: ex,
			Message: fmt.Sprintf("0/%d clusters are available%s", len(s.clusters), describe(ex))}
	}
	if s.in.Replicas > 0 && s.mode.capacityAware() {
		for _, c := range cands {
			c.room = min(AvailableReplicas(c.cluster, s.in.Requests)+int64(c.previous), math.MaxInt32)
		}
	}
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if a.placed != b.placed {
			return a.placed
		}
		if a.room != b.room {
			return a.room > b.room
		}
		return a.name() < b.name()
	})
	chosen, err := spread(s.placement.SpreadConstraints, cands, excluded)
	if err == nil {
		var targets []workv1alpha2.TargetCluster
		targets, err = s.assign(chosen, excluded)
		if err == nil {
			return Result{Targets: targets, Excluded: exclusions(excluded)}, nil
		}
	}
	ex := exclusions(excluded)
	msg := err.Error()
	if len(ex) > 0 {
		msg += "; excluded" + describe(ex)
	}
	return Result{Excluded: ex}, &Error{Reason: workv1alpha2.BindingReasonUnschedulable, Excluded: ex, Message: msg}
}

// exclusions turns the reasons into a sorted list.
func exclusions(reasons map[string]string) []Exclusion {
	out := make([]Exclusion, 0, len(reasons))
	for name, reason := range reasons {
		out = append(out, Exclusion{Cluster: name, Reason: reason})
	}
	slices.SortFunc(out, func(a, b Exclusion) int { return strings.Compare(a.Cluster, b.Cluster) })
	return out
}

// describe is ": a: reason; b: reason" or "" for no exclusions.
func describe(ex []Exclusion) string {
	if len(ex) == 0 {
		return ""
	}
	parts := make([]string, len(ex))
	for i, e := range ex {
		parts[i] = e.Cluster + ": " + e.Reason
	}
	return ": " + strings.Join(parts, "; ")
}
