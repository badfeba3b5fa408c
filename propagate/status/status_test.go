package status

import (
	"encoding/json"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func obj(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return normalise(m).(map[string]any)
}

// normalise turns JSON numbers into int64, as unstructured objects hold them.
func normalise(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalise(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalise(e)
		}
	case float64:
		if x == float64(int64(x)) {
			return int64(x)
		}
	}
	return v
}

// One case per row of KARMADA-COMPAT.md's status aggregation table.
func TestAggregate(t *testing.T) {
	m := func(cluster string, observed bool, status string) Member {
		return Member{Cluster: cluster, Observed: observed, Status: obj(t, status)}
	}
	tests := []struct {
		name    string
		gk      schema.GroupKind
		gen     int64
		prev    string
		members []Member
		want    string
	}{
		{
			name: "Deployment: sums, observedGeneration, conditions true everywhere", gk: schema.GroupKind{Group: "apps", Kind: "Deployment"}, gen: 3,
			members: []Member{
				m("m1", true, `{"observedGeneration":2,"replicas":1,"readyReplicas":1,"updatedReplicas":1,"availableReplicas":1,
					"conditions":[{"type":"Available","status":"True","reason":"MinimumReplicasAvailable"}]}`),
				m("m2", true, `{"observedGeneration":5,"replicas":1,"readyReplicas":1,"updatedReplicas":1,"availableReplicas":1,
					"conditions":[{"type":"Available","status":"True","reason":"MinimumReplicasAvailable"}]}`),
			},
			want: `{"observedGeneration":3,"replicas":2,"readyReplicas":2,"updatedReplicas":2,"availableReplicas":2,"unavailableReplicas":0,
				"conditions":[{"type":"Available","status":"True","reason":"MinimumReplicasAvailable"}]}`,
		},
		{
			name: "Deployment: a member not yet observed keeps the old observedGeneration; a False condition decides", gk: schema.GroupKind{Group: "apps", Kind: "Deployment"}, gen: 4,
			prev: `{"observedGeneration":3}`,
			members: []Member{
				m("m1", true, `{"replicas":1,"readyReplicas":1,"updatedReplicas":1,"availableReplicas":1,
					"conditions":[{"type":"Available","status":"True"}]}`),
				m("m2", false, `{"replicas":1,"unavailableReplicas":1,
					"conditions":[{"type":"Available","status":"False","reason":"MinimumReplicasUnavailable","message":"no pods"}]}`),
			},
			want: `{"observedGeneration":3,"replicas":2,"readyReplicas":1,"updatedReplicas":1,"availableReplicas":1,"unavailableReplicas":1,
				"conditions":[{"type":"Available","status":"False","reason":"MinimumReplicasUnavailable","message":"cluster m2: no pods"}]}`,
		},
		{
			name: "ReplicaSet", gk: schema.GroupKind{Group: "apps", Kind: "ReplicaSet"}, gen: 1,
			members: []Member{m("m1", true, `{"replicas":2,"readyReplicas":1,"availableReplicas":1}`), m("m2", true, `{"replicas":3,"readyReplicas":3,"availableReplicas":2}`)},
			want:    `{"observedGeneration":1,"replicas":5,"readyReplicas":4,"availableReplicas":3}`,
		},
		{
			name: "StatefulSet", gk: schema.GroupKind{Group: "apps", Kind: "StatefulSet"}, gen: 2,
			members: []Member{m("m1", true, `{"replicas":1,"readyReplicas":1,"currentReplicas":1,"updatedReplicas":1,"availableReplicas":1}`),
				m("m2", true, `{"replicas":2,"readyReplicas":1,"currentReplicas":2,"updatedReplicas":0,"availableReplicas":1}`)},
			want: `{"observedGeneration":2,"replicas":3,"readyReplicas":2,"currentReplicas":3,"updatedReplicas":1,"availableReplicas":2}`,
		},
		{
			name: "DaemonSet: the seven counters", gk: schema.GroupKind{Group: "apps", Kind: "DaemonSet"}, gen: 1,
			members: []Member{m("m1", true, `{"currentNumberScheduled":2,"numberMisscheduled":0,"desiredNumberScheduled":2,"numberReady":2,"updatedNumberScheduled":2,"numberAvailable":2,"numberUnavailable":0}`),
				m("m2", true, `{"currentNumberScheduled":3,"numberMisscheduled":1,"desiredNumberScheduled":3,"numberReady":1,"updatedNumberScheduled":3,"numberAvailable":1,"numberUnavailable":2}`)},
			want: `{"observedGeneration":1,"currentNumberScheduled":5,"numberMisscheduled":1,"desiredNumberScheduled":5,"numberReady":3,"updatedNumberScheduled":5,"numberAvailable":3,"numberUnavailable":2}`,
		},
		{
			name: "Job: Complete only when all completed, earliest start", gk: schema.GroupKind{Group: "batch", Kind: "Job"},
			members: []Member{m("m1", true, `{"succeeded":1,"startTime":"2026-01-01T00:00:05Z","completionTime":"2026-01-01T00:01:00Z","conditions":[{"type":"Complete","status":"True"}]}`),
				m("m2", true, `{"active":1,"startTime":"2026-01-01T00:00:03Z"}`)},
			want: `{"active":1,"succeeded":1,"failed":0,"startTime":"2026-01-01T00:00:03Z"}`,
		},
		{
			name: "Job: all completed, latest completion; Failed if any failed", gk: schema.GroupKind{Group: "batch", Kind: "Job"},
			members: []Member{m("m1", true, `{"succeeded":1,"completionTime":"2026-01-01T00:01:00Z","conditions":[{"type":"Complete","status":"True"}]}`),
				m("m2", true, `{"succeeded":1,"failed":2,"completionTime":"2026-01-01T00:02:00Z","conditions":[{"type":"Failed","status":"False"},{"type":"Complete","status":"True"}]}`),
				m("m3", true, `{"failed":1,"completionTime":"2026-01-01T00:00:30Z","conditions":[{"type":"Failed","status":"True","reason":"BackoffLimitExceeded"},{"type":"Complete","status":"True"}]}`)},
			want: `{"active":0,"succeeded":2,"failed":3,"completionTime":"2026-01-01T00:02:00Z",
				"conditions":[{"type":"Failed","status":"True","reason":"BackoffLimitExceeded"},{"type":"Complete","status":"True"}]}`,
		},
		{
			name: "CronJob: union of active, latest times", gk: schema.GroupKind{Group: "batch", Kind: "CronJob"},
			members: []Member{m("m1", true, `{"active":[{"name":"a-1"}],"lastScheduleTime":"2026-01-01T01:00:00Z"}`),
				m("m2", true, `{"active":[{"name":"a-1"},{"name":"a-2"}],"lastScheduleTime":"2026-01-01T02:00:00Z","lastSuccessfulTime":"2026-01-01T00:00:00Z"}`)},
			want: `{"active":[{"name":"a-1"},{"name":"a-2"}],"lastScheduleTime":"2026-01-01T02:00:00Z","lastSuccessfulTime":"2026-01-01T00:00:00Z"}`,
		},
		{
			name: "Service: union of load-balancer ingress, de-duplicated, sorted", gk: schema.GroupKind{Kind: "Service"},
			members: []Member{m("m1", true, `{"loadBalancer":{"ingress":[{"ip":"10.0.0.2"},{"ip":"10.0.0.1"}]}}`), m("m2", true, `{"loadBalancer":{"ingress":[{"ip":"10.0.0.1"}]}}`)},
			want:    `{"loadBalancer":{"ingress":[{"ip":"10.0.0.1"},{"ip":"10.0.0.2"}]}}`,
		},
		{
			name: "Ingress", gk: schema.GroupKind{Group: "networking.k8s.io", Kind: "Ingress"},
			members: []Member{m("m1", true, `{"loadBalancer":{"ingress":[{"hostname":"a.example"}]}}`), m("m2", true, `{}`)},
			want:    `{"loadBalancer":{"ingress":[{"hostname":"a.example"}]}}`,
		},
		{
			name: "Pod: Failed > Pending > Running > Succeeded, container statuses joined", gk: schema.GroupKind{Kind: "Pod"},
			members: []Member{m("m1", true, `{"phase":"Running","containerStatuses":[{"name":"c","ready":true}]}`),
				m("m2", true, `{"phase":"Pending","containerStatuses":[{"name":"c","ready":false}]}`)},
			want: `{"phase":"Pending","containerStatuses":[{"name":"c","ready":true},{"name":"c","ready":false}]}`,
		},
		{
			name: "PersistentVolumeClaim: Bound only if all Bound", gk: schema.GroupKind{Kind: "PersistentVolumeClaim"},
			members: []Member{m("m1", true, `{"phase":"Bound"}`), m("m2", true, `{"phase":"Pending"}`)},
			want:    `{"phase":"Pending"}`,
		},
		{
			name: "PersistentVolumeClaim: all Bound", gk: schema.GroupKind{Kind: "PersistentVolumeClaim"},
			members: []Member{m("m1", true, `{"phase":"Bound"}`), m("m2", true, `{"phase":"Bound"}`)},
			want:    `{"phase":"Bound"}`,
		},
		{
			name: "HorizontalPodAutoscaler: sums", gk: schema.GroupKind{Group: "autoscaling", Kind: "HorizontalPodAutoscaler"},
			members: []Member{m("m1", true, `{"currentReplicas":2,"desiredReplicas":3}`), m("m2", true, `{"currentReplicas":1,"desiredReplicas":1}`)},
			want:    `{"currentReplicas":3,"desiredReplicas":4}`,
		},
		{
			name: "PodDisruptionBudget: sums", gk: schema.GroupKind{Group: "policy", Kind: "PodDisruptionBudget"}, gen: 1,
			members: []Member{m("m1", true, `{"currentHealthy":2,"desiredHealthy":1,"disruptionsAllowed":1,"expectedPods":2}`),
				m("m2", true, `{"currentHealthy":1,"desiredHealthy":1,"disruptionsAllowed":0,"expectedPods":1}`)},
			want: `{"observedGeneration":1,"currentHealthy":3,"desiredHealthy":2,"disruptionsAllowed":1,"expectedPods":3}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			agg := For(tc.gk)
			if agg == nil {
				t.Fatalf("no aggregator for %s", tc.gk)
			}
			var prev map[string]any
			if tc.prev != "" {
				prev = obj(t, tc.prev)
			}
			got := agg(tc.gen, prev, tc.members)
			if want := obj(t, tc.want); !equality.Semantic.DeepEqual(got, want) {
				g, _ := json.Marshal(got)
				w, _ := json.Marshal(want)
				t.Errorf("got  %s\nwant %s", g, w)
			}
		})
	}
}

// Anything else has no aggregate in the template (its per-cluster status is in the binding).
func TestOtherKindsHaveNoAggregate(t *testing.T) {
	for _, gk := range []schema.GroupKind{{Kind: "ConfigMap"}, {Group: "example.com", Kind: "Widget"}} {
		if For(gk) != nil {
			t.Errorf("%s has an aggregator", gk)
		}
	}
}

// No members (all left, NotReady or unjoined): zero counters, the old observedGeneration.
func TestNoMembers(t *testing.T) {
	got := For(schema.GroupKind{Group: "apps", Kind: "Deployment"})(4, map[string]any{"observedGeneration": int64(3)}, nil)
	if got["replicas"] != int64(0) || got["observedGeneration"] != int64(3) {
		t.Errorf("got %v", got)
	}
}
