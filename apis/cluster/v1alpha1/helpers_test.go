package v1alpha1

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestIsReady(t *testing.T) {
	cond := func(s metav1.ConditionStatus) *Cluster {
		return &Cluster{Status: ClusterStatus{Conditions: []metav1.Condition{{Type: ClusterConditionReady, Status: s}}}}
	}
	for name, tc := range map[string]struct {
		c    *Cluster
		want bool
	}{
		"nil": {nil, false}, "no condition": {&Cluster{}, false},
		"true": {cond(metav1.ConditionTrue), true}, "false": {cond(metav1.ConditionFalse), false},
		"unknown": {cond(metav1.ConditionUnknown), false},
	} {
		if got := IsReady(tc.c); got != tc.want {
			t.Errorf("%s: IsReady = %v, want %v", name, got, tc.want)
		}
	}
}
