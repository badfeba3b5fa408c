package placement

import (
	"fmt"
	"sort"
	"strings"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
)

// constraint is a spread constraint with Karmada's defaults applied.
type constraint struct {
	index    int
	byField  policyv1alpha1.SpreadFieldValue // empty when byLabel is set
	byLabel  string
	min, max int // max 0: unbounded
}

func (c constraint) String() string {
	by := "spreadByField " + string(c.byField)
	if c.byLabel != "" {
		by = "spreadByLabel " + c.byLabel
	}
	s := fmt.Sprintf("spreadConstraints[%d] (%s, minGroups %d", c.index, by, c.min)
	if c.max > 0 {
		s += fmt.Sprintf(", maxGroups %d", c.max)
	}
	return s + ")"
}

// what names the grouping in messages: "cluster", "region", "label team", ...
func (c constraint) what() string {
	if c.byLabel != "" {
		return "label " + c.byLabel
	}
	return string(c.byField)
}

// key is the group of cl, false when cl has no value for the constraint. A cluster spanning
// several zones belongs to the zone listed first.
func (c constraint) key(cl *clusterv1alpha1.Cluster) (string, bool) {
	if c.byLabel != "" {
		v, ok := cl.Labels[c.byLabel]
		return v, ok
	}
	if c.byField == policyv1alpha1.SpreadByFieldCluster {
		return cl.Name, true
	}
	vs := fieldValues(cl, string(c.byField))
	if len(vs) == 0 {
		return "", false
	}
	return vs[0], true
}

// group is the clusters sharing one value of a constraint's field or label.
type group struct {
	key     string
	members []*candidate // in candidate rank order
}

// spread applies the spread constraints to cands (ranked best first) and returns the clusters
// to use, best first. Each region/zone/provider/label constraint groups the clusters (clusters
// without a value drop out), needs at least minGroups groups and keeps at most maxGroups, the
// groups with the most previously placed clusters, then the most room, then the most clusters,
// then by name. The cluster constraint then needs at least minGroups clusters and keeps at most
// maxGroups, taken round-robin over the last grouping's groups so that every kept group stays
// represented. Rejected clusters are added to excluded.
func spread(scs []policyv1alpha1.SpreadConstraint, cands []*candidate, excluded map[string]string) ([]*candidate, error) {
	clusterC, groupCs, err := parseConstraints(scs)
	if err != nil {
		return nil, err
	}
	selected := cands
	var last []group
	for _, gc := range groupCs {
		groups := groupBy(gc, selected, excluded)
		if len(groups) < gc.min {
			return nil, fmt.Errorf("%s: only %d %s group(s) available%s", gc, len(groups), gc.what(), describeGroups(groups))
		}
		if gc.max > 0 && len(groups) > gc.max {
			for _, g := range groups[gc.max:] {
				for _, c := range g.members {
					excluded[c.name()] = fmt.Sprintf("%s %q is not among the %d group(s) chosen by %s", gc.what(), g.key, gc.max, gc)
				}
			}
			groups = groups[:gc.max]
		}
		selected = keepRanked(selected, groups)
		last = groups
	}
	if clusterC == nil {
		return selected, nil
	}
	if len(selected) < clusterC.min {
		return nil, fmt.Errorf("%s: only %d cluster(s) available%s", clusterC, len(selected), describeGroups([]group{{members: selected}}))
	}
	if clusterC.max == 0 || len(selected) <= clusterC.max {
		return selected, nil
	}
	kept := roundRobin(selected, last, clusterC.max)
	keptSet := map[*candidate]bool{}
	for _, c := range kept {
		keptSet[c] = true
	}
	for _, c := range selected {
		if !keptSet[c] {
			excluded[c.name()] = fmt.Sprintf("not among the %d cluster(s) chosen by %s", clusterC.max, clusterC)
		}
	}
	for _, gc := range groupCs {
		if n := len(groupBy(gc, kept, nil)); n < gc.min {
			return nil, fmt.Errorf("%s keeps %d cluster(s), which span only %d %s group(s); %s needs %d", clusterC, clusterC.max, n, gc.what(), gc, gc.min)
		}
	}
	return kept, nil
}

// parseConstraints applies the defaults (spreadByField cluster, minGroups 1) and separates the
// cluster constraint (the first one, if any) from the grouping ones.
func parseConstraints(scs []policyv1alpha1.SpreadConstraint) (*constraint, []constraint, error) {
	var clusterC *constraint
	var groupCs []constraint
	for i, sc := range scs {
		c := constraint{index: i, byField: sc.SpreadByField, byLabel: sc.SpreadByLabel, min: max(sc.MinGroups, 1), max: max(sc.MaxGroups, 0)}
		switch {
		case c.byLabel != "":
			c.byField = ""
			groupCs = append(groupCs, c)
		case c.byField == "" || c.byField == policyv1alpha1.SpreadByFieldCluster:
			c.byField = policyv1alpha1.SpreadByFieldCluster
			if clusterC == nil {
				clusterC = &c
			}
		case c.byField == policyv1alpha1.SpreadByFieldRegion, c.byField == policyv1alpha1.SpreadByFieldZone, c.byField == policyv1alpha1.SpreadByFieldProvider:
			groupCs = append(groupCs, c)
		default:
			return nil, nil, fmt.Errorf("spreadConstraints[%d]: unknown spreadByField %q", i, sc.SpreadByField)
		}
	}

	return clusterC, groupCs, nil
}

// groupBy groups cands by gc, ranked best first. Clusters without a value are added to excluded
// (when it is not nil).
func groupBy(gc constraint, cands []*candidate, excluded map[string]string) []group {
	idx := map[string]int{}
	var groups []group
	for _, c := range cands {
		k, ok := gc.key(c.cluster)
		if !ok {
			if excluded != nil {
				excluded[c.name()] = fmt.Sprintf("has no %s, required by %s", gc.what(), gc)
			}
			continue
		}
		i, seen := idx[k]
		if !seen {
			i = len(groups)
			idx[k] = i
			groups = append(groups, group{key: k})
		}
		groups[i].members = append(groups[i].members, c)
	}
	sort.SliceStable(groups, func(i, j int) bool {
		a, b := groups[i].stats(), groups[j].stats()
		for x := range a {
			if a[x] != b[x] {
				return a[x] > b[x]
			}
		}
		return groups[i].key < groups[j].key
	})
	return groups
}

// stats are the ranking keys of a group, larger first: clusters placed before, room, clusters.
func (g group) stats() [3]int64 {
	var s [3]int64
	for _, c := range g.members {
		if c.placed {
			s[0]++
		}
		s[1] += c.room
	}
	s[2] = int64(len(g.members))
	return s
}

// keepRanked keeps the members of groups, in the rank order of cands.
func keepRanked(cands []*candidate, groups []group) []*candidate {
	in := map[*candidate]bool{}
	for _, g := range groups {
		for _, c := range g.members {
			in[c] = true
		}
	}
	var out []*candidate
	for _, c := range cands {
		if in[c] {
			out = append(out, c)
		}
	}
	return out
}

// roundRobin takes n clusters: without groups the first n; with groups the best remaining member
// of each group in turn.
func roundRobin(cands []*candidate, groups []group, n int) []*candidate {
	if len(groups) == 0 {
		return cands[:n]
	}
	var out []*candidate
	for round := 0; len(out) < n; round++ {
		took := false
		for _, g := range groups {
			if round < len(g.members) && len(out) < n {
				out = append(out, g.members[round])
				took = true
			}
		}
		if !took {
			break
		}
	}
	return out
}

// describeGroups is " (us-east: a, b; eu: c)" or "" for no groups.
func describeGroups(groups []group) string {
	var parts []string
	for _, g := range groups {
		names := make([]string, len(g.members))
		for i, c := range g.members {
			names[i] = c.name()
		}
		p := strings.Join(names, ", ")
		if g.key != "" {
			p = g.key + ": " + p
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, "; ") + ")"
}
