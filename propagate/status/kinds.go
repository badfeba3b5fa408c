package status

import (
	"encoding/json"
	"sort"
)

// job sums active, succeeded and failed; Failed when any member failed, Complete only when every
// member completed; the earliest startTime and, once all completed, the latest completionTime.
func job(_ int64, _ map[string]any, members []Member) map[string]any {
	out := map[string]any{}
	for _, f := range []string{"active", "succeeded", "failed"} {
		var sum int64
		for _, m := range members {
			sum += integer(m.Status[f])
		}
		out[f] = sum
	}
	var conds []any
	if c := conditionWhere(members, "Failed", func(n, total int) bool { return n > 0 }); c != nil {
		conds = append(conds, c)
	}
	complete := conditionWhere(members, "Complete", func(n, total int) bool { return n == total && total > 0 })
	if complete != nil {
		conds = append(conds, complete)
	}
	if len(conds) > 0 {
		out["conditions"] = conds
	}
	if t := pickTime(members, "startTime", false); t != "" {
		out["startTime"] = t
	}
	if t := pickTime(members, "completionTime", true); t != "" && complete != nil {
		out["completionTime"] = t
	}
	return out
}

// conditionWhere returns the first True condition of type t among the members when holds(the
// number of members where it is True, the number of members) says it holds for the template.
func conditionWhere(members []Member, t string, holds func(n, total int) bool) map[string]any {
	var first map[string]any
	n := 0
	for _, m := range members {
		conds, _ := m.Status["conditions"].([]any)
		for _, c := range conds {
			if cm, ok := c.(map[string]any); ok && cm["type"] == t && cm["status"] == "True" {
				n++
				if first == nil {
					first = copyMap(cm)
				}
			}
		}
	}
	if first == nil || !holds(n, len(members)) {
		return nil
	}
	return first
}

// pickTime returns the earliest (latest) RFC 3339 time of field among the members.
func pickTime(members []Member, field string, latest bool) string {
	best := ""
	for _, m := range members {
		t, _ := m.Status[field].(string)
		if t == "" {
			continue
		}
		if best == "" || latest && t > best || !latest && t < best {
			best = t
		}
	}
	return best
}

// cronJob is the union of the active jobs and the latest schedule and success times.
func cronJob(_ int64, _ map[string]any, members []Member) map[string]any {
	out := map[string]any{}
	if active := union(members, "active"); len(active) > 0 {
		out["active"] = active
	}
	for _, f := range []string{"lastScheduleTime", "lastSuccessfulTime"} {
		if t := pickTime(members, f, true); t != "" {
			out[f] = t
		}
	}
	return out
}

// loadBalancer is the union of status.loadBalancer.ingress, de-duplicated and sorted.
func loadBalancer(_ int64, _ map[string]any, members []Member) map[string]any {
	var lbs []Member
	for _, m := range members {
		lb, _ := m.Status["loadBalancer"].(map[string]any)
		lbs = append(lbs, Member{Cluster: m.Cluster, Status: lb})
	}
	ingress := union(lbs, "ingress")
	if len(ingress) == 0 {
		return map[string]any{"loadBalancer": map[string]any{}}
	}
	return map[string]any{"loadBalancer": map[string]any{"ingress": ingress}}
}

// union joins the lists at field of every member, without duplicates, sorted by their JSON.
func union(members []Member, field string) []any {
	seen := map[string]any{}
	for _, m := range members {
		list, _ := m.Status[field].([]any)
		for _, it := range list {
			b, err := json.Marshal(it)
			if err == nil {
				seen[string(b)] = it
			}
		}
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]any, 0, len(keys))
	for _, k := range keys {
		out = append(out, seen[k])
	}
	return out
}

// podPhases orders pod phases: the first found among the members wins.
var podPhases = []string{"Failed", "Pending", "Running", "Succeeded"}

// pod takes the phase by priority Failed > Pending > Running > Succeeded and joins the container
// statuses.
func pod(_ int64, _ map[string]any, members []Member) map[string]any {
	out := map[string]any{}
	if p := worst(members, "phase", podPhases); p != "" {
		out["phase"] = p
	}
	var statuses []any
	for _, m := range members {
		list, _ := m.Status["containerStatuses"].([]any)
		statuses = append(statuses, list...)
	}
	if len(statuses) > 0 {
		out["containerStatuses"] = statuses
	}
	return out
}

// claimPhases orders claim phases, worst first.
var claimPhases = []string{"Lost", "Pending", "Bound"}

// claim is Bound only if every member's claim is Bound, else the worst phase.
func claim(_ int64, _ map[string]any, members []Member) map[string]any {
	if p := worst(members, "phase", claimPhases); p != "" {
		return map[string]any{"phase": p}
	}
	return map[string]any{}
}

// worst returns the first of order that some member's field holds; a member that does not report
// the field yet counts as order[1] (Pending: not there yet) when another member reports one.
func worst(members []Member, field string, order []string) string {
	found := map[string]bool{}
	missing := false
	for _, m := range members {
		p, _ := m.Status[field].(string)
		if p == "" {
			missing = true
			continue
		}
		found[p] = true
	}
	if len(found) == 0 {
		return ""
	}
	if missing && len(order) > 1 {
		found[order[1]] = true
	}
	for _, p := range order {
		if found[p] {
			return p
		}
	}
	return ""
}
