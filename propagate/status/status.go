package status

import (
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Member is one member copy's contribution.
type Member struct {
	Cluster string
	// Status is the copy's status as the member reports it (nil: none yet).
	Status map[string]any
	// Observed says the member has observed the copy fleetgate last wrote there, and that copy is
	// the template's current version: the copy is current and status.observedGeneration has
	// reached its metadata.generation.
	Observed bool
}

// Aggregator folds the members' status into a template status.
type Aggregator func(templateGeneration int64, prev map[string]any, members []Member) map[string]any

var aggregators = map[schema.GroupKind]Aggregator{
	{Group: "apps", Kind: "Deployment"}: workload([]string{"replicas", "readyReplicas", "updatedReplicas", "availableReplicas", "unavailableReplicas"}, true),
	{Group: "apps", Kind: "ReplicaSet"}: workload([]string{"replicas", "readyReplicas", "availableReplicas"}, true),
	{Group: "apps", Kind: "StatefulSet"}: workload([]string{"replicas", "readyReplicas", "currentReplicas", "updatedReplicas",
		"availableReplicas"}, true),
	{Group: "apps", Kind: "DaemonSet"}: workload([]string{"currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled",
		"numberReady", "updatedNumberScheduled", "numberAvailable", "numberUnavailable"}, true),
	{Group: "batch", Kind: "Job"}:                           job,
	{Group: "batch", Kind: "CronJob"}:                       cronJob,
	{Kind: "Service"}:                                       loadBalancer,
	{Group: "networking.k8s.io", Kind: "Ingress"}:           loadBalancer,
	{Kind: "Pod"}:                                           pod,
	{Kind: "PersistentVolumeClaim"}:                         claim,
	{Group: "autoscaling", Kind: "HorizontalPodAutoscaler"}: workload([]string{"currentReplicas", "desiredReplicas"}, false),
	{Group: "policy", Kind: "PodDisruptionBudget"}: workload([]string{"currentHealthy", "desiredHealthy", "disruptionsAllowed",
		"expectedPods"}, true),
}

// For returns the aggregator of kind gk, nil when the kind has no aggregate in the template (its
// per-cluster status is only in the binding).
func For(gk schema.GroupKind) Aggregator { return aggregators[gk] }

// workload sums counters; with generation it also sets observedGeneration (see observedGeneration)
// and folds the conditions.
func workload(counters []string, generation bool) Aggregator {
	return func(templateGeneration int64, prev map[string]any, members []Member) map[string]any {
		out := map[string]any{}
		for _, f := range counters {
			var sum int64
			for _, m := range members {
				sum += integer(m.Status[f])
			}
			out[f] = sum
		}
		if generation {
			out["observedGeneration"] = observedGeneration(templateGeneration, prev, members)
		}
		if conds := foldConditions(members); len(conds) > 0 {
			out["conditions"] = conds
		}
		return out
	}
}

// observedGeneration is the template's generation once every member has observed its current copy
// (and there is at least one member), else what the template's status said before (never more
// than the generation): until then, `kubectl rollout status` and Helm keep waiting.
func observedGeneration(templateGeneration int64, prev map[string]any, members []Member) int64 {
	all := len(members) > 0
	for _, m := range members {
		all = all && m.Observed
	}
	if all {
		return templateGeneration
	}
	return min(integer(prev["observedGeneration"]), templateGeneration)
}

// foldConditions joins the members' conditions by type: True only when every member says True,
// False when one says False, Unknown otherwise. Reason and message come from the member that
// decided it (named in the message); the times are that member's.
func foldConditions(members []Member) []any {
	byType := map[string][]map[string]any{}
	var types []string
	for _, m := range members {
		conds, _ := m.Status["conditions"].([]any)
		for _, c := range conds {
			cm, ok := c.(map[string]any)
			if !ok {
				continue
			}
			t, _ := cm["type"].(string)
			if _, seen := byType[t]; !seen {
				types = append(types, t)
			}
			named := copyMap(cm)
			if msg, _ := named["message"].(string); msg != "" {
				named["message"] = fmt.Sprintf("cluster %s: %s", m.Cluster, msg)
			}
			byType[t] = append(byType[t], named)
		}
	}
	sort.Strings(types)
	out := make([]any, 0, len(types))
	for _, t := range types {
		conds := byType[t]
		decided := conds[0]
		for _, c := range conds {
			if rank(c["status"]) > rank(decided["status"]) {
				decided = c
			}
		}
		if len(conds) < len(members) && decided["status"] == "True" {
			decided = copyMap(decided)
			decided["status"], decided["reason"], decided["message"] = "Unknown", "NotReportedByAllClusters", "not every cluster reports it yet"
		}
		out = append(out, decided)
	}
	return out
}

// rank orders condition statuses: a False anywhere decides, then Unknown, then True.
func rank(s any) int {
	switch s {
	case "False":
		return 2
	case "True":
		return 0
	}
	return 1
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// integer reads a JSON number (int64 or float64 in unstructured objects); anything else is 0.
func integer(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case float64:
		return int64(n)
	case int:
		return int64(n)
	case int32:
		return int64(n)
	}
	return 0
}
