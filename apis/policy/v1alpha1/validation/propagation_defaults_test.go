package validation

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
)

func TestSetPropagationDefaults(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{
			name: "empty spec",
			in:   `{}`,
			want: `{resourceSelectors: null, priority: 0, preemption: Never, conflictResolution: Abort, schedulerName: default-scheduler}`,
		},
		{
			name: "explicit values are kept",
			in:   `{priority: 7, preemption: Always, conflictResolution: Overwrite, schedulerName: mine}`,
			want: `{resourceSelectors: null, priority: 7, preemption: Always, conflictResolution: Overwrite, schedulerName: mine}`,
		},
		{
			name: "spread constraints",
			in:   `{placement: {spreadConstraints: [{}, {spreadByLabel: rack}, {spreadByField: region, minGroups: 2, maxGroups: 3}]}}`,
			want: `{resourceSelectors: null, priority: 0, preemption: Never, conflictResolution: Abort, schedulerName: default-scheduler,
			  placement: {spreadConstraints: [{spreadByField: cluster, minGroups: 1}, {spreadByLabel: rack, minGroups: 1}, {spreadByField: region, minGroups: 2, maxGroups: 3}]}}`,
		},
		{
			name: "replicaScheduling block without type: Divided, Weighted",
			in:   `{placement: {replicaScheduling: {}}}`,
			want: `{resourceSelectors: null, priority: 0, preemption: Never, conflictResolution: Abort, schedulerName: default-scheduler,
			  placement: {replicaScheduling: {replicaSchedulingType: Divided, replicaDivisionPreference: Weighted}}}`,
		},
		{
			name: "Divided with Aggregated is kept",
			in:   `{placement: {replicaScheduling: {replicaDivisionPreference: Aggregated}}}`,
			want: `{resourceSelectors: null, priority: 0, preemption: Never, conflictResolution: Abort, schedulerName: default-scheduler,
			  placement: {replicaScheduling: {replicaSchedulingType: Divided, replicaDivisionPreference: Aggregated}}}`,
		},
		{
			name: "Duplicated gets no preference",
			in:   `{placement: {replicaScheduling: {replicaSchedulingType: Duplicated}}}`,
			want: `{resourceSelectors: null, priority: 0, preemption: Never, conflictResolution: Abort, schedulerName: default-scheduler,
			  placement: {replicaScheduling: {replicaSchedulingType: Duplicated}}}`,
		},
		{
			name: "no replicaScheduling block stays Duplicated (no block added)",
			in:   `{placement: {clusterAffinity: {clusterNames: [a]}}}`,
			want: `{resourceSelectors: null, priority: 0, preemption: Never, conflictResolution: Abort, schedulerName: default-scheduler,
			  placement: {clusterAffinity: {clusterNames: [a]}}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got, want policyv1alpha1.PropagationSpec
			if err := yaml.UnmarshalStrict([]byte(tt.in), &got); err != nil {
				t.Fatal(err)
			}
			if err := yaml.UnmarshalStrict([]byte(tt.want), &want); err != nil {
				t.Fatal(err)
			}
			SetPropagationDefaults(&got)
			if !equality.Semantic.DeepEqual(got, want) {
				g, _ := yaml.Marshal(got)
				w, _ := yaml.Marshal(want)
				t.Fatalf("defaulted:\n%s\nwant:\n%s", g, w)
			}
			once := got.DeepCopy()
			SetPropagationDefaults(&got)
			if !equality.Semantic.DeepEqual(&got, once) {
				t.Error("applying the defaults twice differs from once")
			}
		})
	}
}

func TestSetPropagationPolicyDefaults(t *testing.T) {
	pp := &policyv1alpha1.PropagationPolicy{}
	pp.Namespace = "team-a"
	pp.Spec.ResourceSelectors = []policyv1alpha1.ResourceSelector{{APIVersion: "v1", Kind: "ConfigMap"}, {APIVersion: "v1", Kind: "Secret", Namespace: "team-a"}}
	SetPropagationPolicyDefaults(pp)
	for i, rs := range pp.Spec.ResourceSelectors {
		if rs.Namespace != "team-a" {
			t.Errorf("resourceSelectors[%d].namespace = %q, want team-a", i, rs.Namespace)
		}
	}
	once := pp.DeepCopy()
	SetPropagationPolicyDefaults(pp)
	if !equality.Semantic.DeepEqual(pp, once) {
		t.Error("applying the defaults twice differs from once")
	}

	cpp := &policyv1alpha1.ClusterPropagationPolicy{}
	cpp.Spec.ResourceSelectors = []policyv1alpha1.ResourceSelector{{APIVersion: "v1", Kind: "ConfigMap"}}
	SetClusterPropagationPolicyDefaults(cpp)
	if cpp.Spec.ResourceSelectors[0].Namespace != "" || !equality.Semantic.DeepEqual(cpp.Spec.Priority, ptr.To[int32](0)) {
		t.Errorf("ClusterPropagationPolicy defaults: %+v", cpp.Spec)
	}
}
