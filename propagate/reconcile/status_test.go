package reconcile

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	workv1alpha2 "github.com/fleetgate/fleetgate/apis/work/v1alpha2"
	"github.com/fleetgate/fleetgate/propagate/override"
	"github.com/fleetgate/fleetgate/propagate/placement"
	"github.com/fleetgate/fleetgate/propagate/plan"
)

func targets(names ...string) []workv1alpha2.TargetCluster {
	var out []workv1alpha2.TargetCluster
	for _, n := range names {
		out = append(out, workv1alpha2.TargetCluster{Name: n})
	}
	return out
}

func TestBuildStatus(t *testing.T) {
	t0 := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	noFit := &placement.Error{Reason: workv1alpha2.BindingReasonNoClusterFit, Message: "0/2 clusters are available"}
	tests := []struct {
		name          string
		in            statusInput
		wantScheduled metav1.ConditionStatus
		wantReason    string
		wantApplied   metav1.ConditionStatus
		wantItems     string // clusterName=applied:message;…
	}{
		{
			name:          "all applied",
			in:            statusInput{targets: targets("m1", "m2"), results: map[string]result{"m1": {applied: true}, "m2": {applied: true}}},
			wantScheduled: metav1.ConditionTrue, wantReason: workv1alpha2.BindingReasonSuccess, wantApplied: metav1.ConditionTrue,
			wantItems: "m1=true:;m2=true:;",
		},
		{
			name:          "one failed",
			in:            statusInput{targets: targets("m1", "m2"), results: map[string]result{"m1": {applied: true}, "m2": {message: "conflict"}}},
			wantScheduled: metav1.ConditionTrue, wantReason: workv1alpha2.BindingReasonSuccess, wantApplied: metav1.ConditionFalse,
			wantItems: "m1=true:;m2=false:conflict;",
		},
		{
			name:          "not attempted",
			in:            statusInput{targets: targets("m1"), results: map[string]result{}},
			wantScheduled: metav1.ConditionTrue, wantReason: workv1alpha2.BindingReasonSuccess, wantApplied: metav1.ConditionFalse,
			wantItems: "m1=false:" + notAppliedYetReason + ";",
		},
		{
			name:          "no cluster fits",
			in:            statusInput{schedErr: noFit},
			wantScheduled: metav1.ConditionFalse, wantReason: workv1alpha2.BindingReasonNoClusterFit, wantApplied: metav1.ConditionFalse,
		},
		{
			name:          "scheduler error",
			in:            statusInput{schedErr: errors.New("boom")},
			wantScheduled: metav1.ConditionFalse, wantReason: workv1alpha2.BindingReasonSchedulerError, wantApplied: metav1.ConditionFalse,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.generation, tc.in.now = 3, t0
			st := buildStatus(workv1alpha2.ResourceBindingStatus{}, tc.in)
			s := meta.FindStatusCondition(st.Conditions, workv1alpha2.Scheduled)
			if s == nil || s.Status != tc.wantScheduled || s.Reason != tc.wantReason || s.ObservedGeneration != 3 {
				t.Errorf("Scheduled = %+v, want %s %s", s, tc.wantScheduled, tc.wantReason)
			}
			if tc.in.schedErr != nil && s.Message != tc.in.schedErr.Error() {
				t.Errorf("Scheduled message %q", s.Message)
			}
			a := meta.FindStatusCondition(st.Conditions, workv1alpha2.FullyApplied)
			if a == nil || a.Status != tc.wantApplied {
				t.Errorf("FullyApplied = %+v, want %s", a, tc.wantApplied)
			}
			var items strings.Builder
			for _, it := range st.AggregatedStatus {
				items.WriteString(it.ClusterName + "=" + map[bool]string{true: "true", false: "false"}[it.Applied] + ":" + it.AppliedMessage + ";")
			}
			if items.String() != tc.wantItems {
				t.Errorf("aggregatedStatus = %q, want %q", items.String(), tc.wantItems)
			}
			if st.SchedulerObservedGeneration != 3 {
				t.Errorf("schedulerObservedGeneration = %d", st.SchedulerObservedGeneration)
			}
		})
	}
}

// A resync with the same inputs gives the same status (no write), keeping transition times and
// what others wrote into the items (member status, health).
func TestBuildStatusIsStable(t *testing.T) {
	t0 := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	in := statusInput{targets: targets("m1"), results: map[string]result{"m1": {applied: true}}, generation: 1, rescheduled: true, now: t0}
	first := buildStatus(workv1alpha2.ResourceBindingStatus{}, in)
	first.AggregatedStatus[0].Health = workv1alpha2.ResourceHealthy
	first.AggregatedStatus[0].Status = &runtime.RawExtension{Raw: []byte(`{"readyReplicas":1}`)}

	in.now, in.rescheduled = metav1.NewTime(t0.Add(time.Hour)), false
	again := buildStatus(first, in)
	if !equalStatus(first, again) {
		t.Errorf("resync changed the status:\n%+v\n%+v", first, again)
	}
	if again.AggregatedStatus[0].Health != workv1alpha2.ResourceHealthy || again.AggregatedStatus[0].Status == nil {
		t.Errorf("member status and health not kept: %+v", again.AggregatedStatus[0])
	}
	in.results["m1"] = result{message: "down"}
	failed := buildStatus(first, in)
	c := meta.FindStatusCondition(failed.Conditions, workv1alpha2.FullyApplied)
	if c.Status != metav1.ConditionFalse || !c.LastTransitionTime.Equal(&in.now) {
		t.Errorf("FullyApplied after a failure: %+v", c)
	}
	if failed.LastScheduledTime == nil || !failed.LastScheduledTime.Equal(&t0) {
		t.Errorf("lastScheduledTime moved without rescheduling: %v", failed.LastScheduledTime)
	}
}

func equalStatus(a, b workv1alpha2.ResourceBindingStatus) bool {
	return apiequality.Semantic.DeepEqual(a, b)
}

func TestOverrideAnnotationValues(t *testing.T) {
	labels := policyv1alpha1.Overriders{LabelsOverrider: []policyv1alpha1.LabelAnnotationOverrider{{Operator: policyv1alpha1.OverriderOpAdd, Value: map[string]string{"a": "b"}}}}
	op := override.PolicyRef{Kind: policyv1alpha1.ResourceKindOverridePolicy, Namespace: "ns", Name: "op1"}
	cop := override.PolicyRef{Kind: policyv1alpha1.ResourceKindClusterOverridePolicy, Name: "cop1"}
	p := &plan.Plan{Clusters: map[string]*plan.ClusterPlan{
		"m2": {Applied: []override.AppliedPolicy{{Policy: op, Overriders: &labels}}},
		"m1": {Applied: []override.AppliedPolicy{{Policy: op, Overriders: &labels}, {Policy: cop, Overriders: &labels}}},
		"m3": {},
	}}
	got, err := overrideAnnotationValues(p)
	if err != nil {
		t.Fatal(err)
	}
	entry := `[{"policyName":"%s","overriders":{"labelsOverrider":[{"operator":"add","value":{"a":"b"}}]}}]`
	want := map[string]string{
		policyv1alpha1.AppliedOverrides:        `{"m1":` + fmt.Sprintf(entry, "op1") + `,"m2":` + fmt.Sprintf(entry, "op1") + `}`,
		policyv1alpha1.AppliedClusterOverrides: `{"m1":` + fmt.Sprintf(entry, "cop1") + `}`,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %s\nwant %s", k, got[k], v)
		}
	}
	none, _ := overrideAnnotationValues(&plan.Plan{Clusters: map[string]*plan.ClusterPlan{"m1": {}}})
	if none[policyv1alpha1.AppliedOverrides] != "" || none[policyv1alpha1.AppliedClusterOverrides] != "" {
		t.Errorf("no overrides: %v", none)
	}
}

// TestSameStatusAsStored: what the host's apiserver stored for an aggregate (zero values dropped
// by omitempty, empty lists as null) compares equal to the aggregate, so a pass over an unchanged
// template writes nothing; a real difference still counts. The stored values are what the host
// returned in TestRestartThroughput, which saw every warm restart patch these statuses again.
func TestSameStatusAsStored(t *testing.T) {
	cases := []struct {
		name         string
		stored, want string
		same         bool
	}{
		{"deployment zeros dropped", `{"observedGeneration":2}`,
			`{"availableReplicas":0,"observedGeneration":2,"readyReplicas":0,"replicas":0,"unavailableReplicas":0,"updatedReplicas":0}`, true},
		{"deployment with conditions", `{"availableReplicas":2,"conditions":[{"lastTransitionTime":null,"reason":"Test","status":"True","type":"Available"}],"observedGeneration":2,"replicas":2}`,
			`{"availableReplicas":2,"conditions":[{"lastTransitionTime":null,"reason":"Test","status":"True","type":"Available"}],"observedGeneration":2,"replicas":2,"unavailableReplicas":0}`, true},
		{"hpa null list", `{"currentMetrics":null,"desiredReplicas":0}`, `{"currentReplicas":0,"desiredReplicas":0}`, true},
		{"int and float", `{"replicas":2}`, `{"replicas":2.0}`, true},
		{"replicas changed", `{"replicas":2}`, `{"replicas":3}`, false},
		{"went to zero", `{"replicas":2}`, `{"replicas":0}`, false},
		{"condition changed", `{"conditions":[{"type":"Available","status":"True"}]}`, `{"conditions":[{"type":"Available","status":"False"}]}`, false},
		{"condition order", `{"conditions":[{"type":"A"},{"type":"B"}]}`, `{"conditions":[{"type":"B"},{"type":"A"}]}`, false},
		{"new field", `{}`, `{"replicas":1}`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stored, want map[string]any
			if err := json.Unmarshal([]byte(tc.stored), &stored); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(tc.want), &want); err != nil {
				t.Fatal(err)
			}
			if got := sameStatus(stored, want); got != tc.same {
				t.Errorf("sameStatus(%s, %s) = %v, want %v", tc.stored, tc.want, got, tc.same)
			}
		})
	}
}
