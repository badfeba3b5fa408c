package chaos

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	workv1alpha2 "github.com/fleetgate/fleetgate/apis/work/v1alpha2"
)

// The checker's own tests: fixtures, no environment needed beyond TestMain's.

func configMap(ns, name, uid string, labels map[string]string, annotations map[string]string, data map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "data": data}}
	u.SetNamespace(ns)
	u.SetName(name)
	u.SetUID(types.UID(uid))
	u.SetLabels(labels)
	u.SetAnnotations(annotations)
	return u
}

// fixture is a converged fleet: one template, a right copy in each member, a truthful binding.
func fixture() *snapshot {
	key := objKey{"ConfigMap", "ns", "cm"}
	tpl := configMap("ns", "cm", "u1", map[string]string{"tier": "a", "propagationpolicy.karmada.io/permanent-id": "x"},
		map[string]string{"propagationpolicy.karmada.io/name": "chaos", "note": "n"}, map[string]any{"gen": "1"})
	s := &snapshot{host: map[objKey]*unstructured.Unstructured{key: tpl}, members: map[string]map[objKey]*unstructured.Unstructured{},
		bindings: map[string]*workv1alpha2.ResourceBinding{}}
	rb := &workv1alpha2.ResourceBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "cm-configmap"}}
	rb.Spec.Resource = workv1alpha2.ObjectReference{APIVersion: "v1", Kind: "ConfigMap", Namespace: "ns", Name: "cm", UID: "u1"}
	for _, m := range members {
		cp := configMap("ns", "cm", "m-"+m, map[string]string{"tier": "a", labelManaged: "true"},
			map[string]string{annotationTemplateUID: "u1", "fleetgate.io/template": "v1/ConfigMap/ns/cm", "note": "n"}, map[string]any{"gen": "1"})
		s.members[m] = map[objKey]*unstructured.Unstructured{key: cp}
		rb.Spec.Clusters = append(rb.Spec.Clusters, workv1alpha2.TargetCluster{Name: m})
		rb.Status.AggregatedStatus = append(rb.Status.AggregatedStatus, workv1alpha2.AggregatedStatusItem{ClusterName: m, Applied: true})
	}
	rb.Status.Conditions = []metav1.Condition{{Type: workv1alpha2.FullyApplied, Status: metav1.ConditionTrue}}
	s.bindings["ns/cm-configmap"] = rb
	return s
}

func TestCheck(t *testing.T) {
	key := objKey{"ConfigMap", "ns", "cm"}
	for name, tc := range map[string]struct {
		mutate func(s *snapshot)
		want   []string // substrings of the report, in order; none when converged
	}{
		"converged": {mutate: func(*snapshot) {}},
		"copy edited": {mutate: func(s *snapshot) {
			_ = unstructured.SetNestedField(s.members["member2"][key].Object, "hand", "data", "gen")
		}, want: []string{"member2: ConfigMap ns/cm: content differs", `data.gen: expected "1", found "hand"`,
			"aggregatedStatus[member2] is wrong", "FullyApplied is wrong"}},
		"copy deleted": {mutate: func(s *snapshot) { delete(s.members["member1"], key) },
			want: []string{"member1: ConfigMap ns/cm: copy absent", `data.gen = "1"`, "aggregatedStatus[member1] is wrong"}},
		"old incarnation": {mutate: func(s *snapshot) { s.host[key].SetUID("u2") },
			want: []string{"member1: ConfigMap ns/cm: copy of another incarnation", "member2: ConfigMap ns/cm: copy of another incarnation",
				"binding of another incarnation"}},
		"template gone": {mutate: func(s *snapshot) { delete(s.host, key) },
			want: []string{"member1: ConfigMap ns/cm: managed copy without a template", "member2: ConfigMap ns/cm: managed copy without a template",
				"ResourceBinding ns/cm-configmap: binding without a template"}},
		"stuck terminating": {mutate: func(s *snapshot) { now := metav1.Now(); s.host[key].SetDeletionTimestamp(&now) },
			want: []string{"template still Terminating"}},
		"one target": {mutate: func(s *snapshot) {
			s.bindings["ns/cm-configmap"].Spec.Clusters = s.bindings["ns/cm-configmap"].Spec.Clusters[:1]
		},
			want: []string{`wrong targets`, `expected spec.clusters member1,member2, found "member1"`}},
		"label added by hand": {mutate: func(s *snapshot) {
			s.members["member1"][key].SetLabels(map[string]string{"tier": "a", "x": "y", labelManaged: "true"})
		},
			want: []string{"member1: ConfigMap ns/cm: content differs", `metadata.labels.x: expected <none>, found "y"`}},
	} {
		t.Run(name, func(t *testing.T) {
			s := fixture()
			tc.mutate(s)
			report := formatDivergences(s.check([]string{"ns"}))
			if len(tc.want) == 0 && report != "" {
				t.Fatalf("want no divergence, got:\n%s", report)
			}
			rest := report
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("report lacks %q (in order):\n%s", w, report)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

func TestParseQueueMetrics(t *testing.T) {
	text := `# HELP workqueue_depth Current depth of workqueue
# TYPE workqueue_depth gauge
workqueue_depth{name="templates"} 3
workqueue_depth{controller="x",name="member-member1"} 0
workqueue_adds_total{name="templates"} 42
workqueue_retries_total{name="templates"} 7
fleetgate_requests_total{code="200",group="",resource="configmaps",verb="get"} 5
`
	got := parseQueueMetrics(text)
	if got["templates"] != (queueStats{depth: 3, adds: 42, retries: 7}) || got["member-member1"] != (queueStats{}) || len(got) != 2 {
		t.Errorf("parseQueueMetrics = %+v", got)
	}
	if got := parseQueueMetrics("fleetgate_requests_total{code=\"200\"} 1\n"); got != nil {
		t.Errorf("without workqueue metrics: %+v, want nil", got)
	}
}
