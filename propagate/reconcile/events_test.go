package reconcile

import (
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	workv1alpha2 "github.com/fleetgate/fleetgate/apis/work/v1alpha2"
	"github.com/fleetgate/fleetgate/propagate/placement"
)

func view(clusters []string, record map[string]string, results map[string]result, schedErr error) bindingView {
	in := statusInput{targets: targets(clusters...), results: results, schedErr: schedErr, generation: 1,
		now: metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}
	return bindingView{clusters: in.targets, status: buildStatus(workv1alpha2.ResourceBindingStatus{}, in), record: record}
}

func TestBindingEvents(t *testing.T) {
	ok := map[string]result{"m1": {applied: true}, "m2": {applied: true}}
	m2Conflict := map[string]result{"m1": {applied: true}, "m2": {message: "conflict"}}
	noFit := &placement.Error{Reason: workv1alpha2.BindingReasonNoClusterFit, Message: "no cluster fits"}
	tests := []struct {
		name       string
		prev, next bindingView
		want       []event
	}{
		{
			name: "first apply",
			prev: bindingView{},
			next: view([]string{"m1", "m2"}, map[string]string{"m1": "h1", "m2": "h1"}, ok, nil),
			want: []event{{"Normal", ReasonApplySucceeded, "Applied to clusters m1, m2"}},
		},
		{
			name: "first apply with overrides on one cluster",
			prev: bindingView{},
			next: func() bindingView {
				v := view([]string{"m1", "m2"}, map[string]string{"m1": "h1", "m2": "h1"}, ok, nil)
				v.overrides = map[string][]string{"m1": {"ClusterOverridePolicy c", "OverridePolicy a"}}
				return v
			}(),
			want: []event{{"Normal", ReasonApplySucceeded, "Applied to clusters m1 (overrides: ClusterOverridePolicy c, OverridePolicy a), m2"}},
		},
		{
			name: "resync changes nothing",
			prev: view([]string{"m1", "m2"}, map[string]string{"m1": "h1", "m2": "h1"}, ok, nil),
			next: view([]string{"m1", "m2"}, map[string]string{"m1": "h1", "m2": "h1"}, ok, nil),
		},
		{
			name: "update applied to one cluster",
			prev: view([]string{"m1", "m2"}, map[string]string{"m1": "h1", "m2": "h1"}, ok, nil),
			next: view([]string{"m1", "m2"}, map[string]string{"m1": "h2", "m2": "h1"}, ok, nil),
			want: []event{{"Normal", ReasonApplySucceeded, "Applied to cluster m1"}},
		},
		{
			name: "new failure",
			prev: view([]string{"m1", "m2"}, map[string]string{"m1": "h1", "m2": "h1"}, ok, nil),
			next: view([]string{"m1", "m2"}, map[string]string{"m1": "h1", "m2": "h1"}, m2Conflict, nil),
			want: []event{{"Warning", ReasonApplyFailed, "Failed to apply to cluster m2: conflict"}},
		},
		{
			name: "same failure again",
			prev: view([]string{"m1", "m2"}, map[string]string{"m1": "h1"}, m2Conflict, nil),
			next: view([]string{"m1", "m2"}, map[string]string{"m1": "h1"}, m2Conflict, nil),
		},
		{
			name: "scheduling fails",
			prev: view([]string{"m1"}, map[string]string{"m1": "h1"}, map[string]result{"m1": {applied: true}}, nil),
			next: view([]string{"m1"}, map[string]string{"m1": "h1"}, map[string]result{"m1": {applied: true}}, noFit),
			want: []event{{"Warning", ReasonScheduleFailed, "no cluster fits"}},
		},
		{
			name: "scheduling still fails",
			prev: view(nil, nil, nil, noFit),
			next: view(nil, nil, nil, noFit),
		},
		{
			name: "moved away from a cluster",
			prev: view([]string{"m1", "m2"}, map[string]string{"m1": "h1", "m2": "h1"}, ok, nil),
			next: view([]string{"m1"}, map[string]string{"m1": "h1"}, map[string]result{"m1": {applied: true}}, nil),
			want: []event{{"Normal", ReasonScheduleSucceeded, "Scheduled to clusters m1"}, {"Normal", ReasonDeleteSucceeded, "Deleted from cluster m2"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := bindingEvents(tc.prev, tc.next)
			if len(got) != len(tc.want) || len(got) > 0 && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("events = %v, want %v", got, tc.want)
			}
		})
	}
}
