package validation

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
)

// validPP is a PropagationPolicy that uses most features and passes validation.
func validPP() *policyv1alpha1.PropagationPolicy {
	return &policyv1alpha1.PropagationPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "nginx"},
		Spec: policyv1alpha1.PropagationSpec{
			ResourceSelectors: []policyv1alpha1.ResourceSelector{
				{APIVersion: "apps/v1", Kind: "Deployment", Name: "nginx"},
				{APIVersion: "v1", Kind: "ConfigMap", Namespace: "default", LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "nginx"}}},
			},
			Placement: policyv1alpha1.Placement{
				ClusterAffinity: &policyv1alpha1.ClusterAffinity{
					ClusterNames:  []string{"member1", "member2"},
					LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"env": "prod"}},
					FieldSelector: &policyv1alpha1.FieldSelector{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "region", Operator: corev1.NodeSelectorOpIn, Values: []string{"eu"}}}},
				},
				ClusterTolerations: []corev1.Toleration{
					{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "team-a", Effect: corev1.TaintEffectNoSchedule},
					{Operator: corev1.TolerationOpExists},
					{Key: "cluster.karmada.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)},
				},
				SpreadConstraints: []policyv1alpha1.SpreadConstraint{
					{SpreadByField: policyv1alpha1.SpreadByFieldRegion, MinGroups: 1, MaxGroups: 2},
					{MinGroups: 2},
				},
				ReplicaScheduling: &policyv1alpha1.ReplicaSchedulingStrategy{
					ReplicaSchedulingType:     policyv1alpha1.ReplicaSchedulingTypeDivided,
					ReplicaDivisionPreference: policyv1alpha1.ReplicaDivisionPreferenceWeighted,
					WeightPreference: &policyv1alpha1.ClusterPreferences{StaticWeightList: []policyv1alpha1.StaticClusterWeight{
						{TargetCluster: policyv1alpha1.ClusterAffinity{ClusterNames: []string{"member1"}}, Weight: 1},
						{TargetCluster: policyv1alpha1.ClusterAffinity{ClusterNames: []string{"member2"}}, Weight: 2},
					}},
				},
			},
			Priority:           ptr.To[int32](5),
			Preemption:         policyv1alpha1.PreemptNever,
			ConflictResolution: policyv1alpha1.ConflictOverwrite,
		},
	}
}

// errs renders an ErrorList as "Type path" strings.
func errs(list field.ErrorList) []string {
	var out []string
	for _, e := range list {
		out = append(out, string(e.Type)+" "+e.Field)
	}
	return out
}

func TestValidatePropagationPolicy(t *testing.T) {
	const (
		required     = string(field.ErrorTypeRequired) + " "
		invalid      = string(field.ErrorTypeInvalid) + " "
		notSupported = string(field.ErrorTypeNotSupported) + " "
		forbidden    = string(field.ErrorTypeForbidden) + " "
		duplicate    = string(field.ErrorTypeDuplicate) + " "
		tooLong      = string(field.ErrorTypeTooLong) + " "
	)
	placement := func(pp *policyv1alpha1.PropagationPolicy) *policyv1alpha1.Placement { return &pp.Spec.Placement }
	weights := func(pp *policyv1alpha1.PropagationPolicy) *policyv1alpha1.ClusterPreferences {
		return pp.Spec.Placement.ReplicaScheduling.WeightPreference
	}
	tests := []struct {
		name   string
		mutate func(*policyv1alpha1.PropagationPolicy)
		want   []string
	}{
		{name: "valid", mutate: func(*policyv1alpha1.PropagationPolicy) {}},
		{name: "name longer than a label value", mutate: func(pp *policyv1alpha1.PropagationPolicy) { pp.Name = strings.Repeat("n", 64) },
			want: []string{tooLong + "metadata.name"}},
		{name: "no resource selector", mutate: func(pp *policyv1alpha1.PropagationPolicy) { pp.Spec.ResourceSelectors = nil },
			want: []string{required + "spec.resourceSelectors"}},
		{name: "apiVersion and kind required", mutate: func(pp *policyv1alpha1.PropagationPolicy) {
			pp.Spec.ResourceSelectors[1].APIVersion, pp.Spec.ResourceSelectors[1].Kind = "", ""
		}, want: []string{required + "spec.resourceSelectors[1].apiVersion", required + "spec.resourceSelectors[1].kind"}},
		{name: "malformed apiVersion", mutate: func(pp *policyv1alpha1.PropagationPolicy) { pp.Spec.ResourceSelectors[0].APIVersion = "a/b/c" },
			want: []string{invalid + "spec.resourceSelectors[0].apiVersion"}},
		{name: "selector namespace other than the policy's", mutate: func(pp *policyv1alpha1.PropagationPolicy) { pp.Spec.ResourceSelectors[1].Namespace = "other" },
			want: []string{invalid + "spec.resourceSelectors[1].namespace"}},
		{name: "invalid labelSelector", mutate: func(pp *policyv1alpha1.PropagationPolicy) {
			pp.Spec.ResourceSelectors[1].LabelSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpIn}}}
		}, want: []string{required + "spec.resourceSelectors[1].labelSelector.matchExpressions[0].values"}},
		{name: "preemption Always needs named selectors", mutate: func(pp *policyv1alpha1.PropagationPolicy) { pp.Spec.Preemption = policyv1alpha1.PreemptAlways },
			want: []string{invalid + "spec.resourceSelectors[1].name"}},
		{name: "unknown preemption, conflictResolution, activationPreference", mutate: func(pp *policyv1alpha1.PropagationPolicy) {
			pp.Spec.Preemption, pp.Spec.ConflictResolution, pp.Spec.ActivationPreference = "Sometimes", "Merge", "Eager"
		}, want: []string{notSupported + "spec.preemption", notSupported + "spec.conflictResolution", notSupported + "spec.activationPreference"}},
		{name: "clusterAffinity together with clusterAffinities", mutate: func(pp *policyv1alpha1.PropagationPolicy) {
			placement(pp).ClusterAffinities = []policyv1alpha1.ClusterAffinityTerm{{AffinityName: "a"}}
		}, want: []string{forbidden + "spec.placement.clusterAffinities"}},
		{name: "affinityName empty, duplicate, too long, invalid", mutate: func(pp *policyv1alpha1.PropagationPolicy) {
			placement(pp).ClusterAffinity = nil
			placement(pp).ClusterAffinities = []policyv1alpha1.ClusterAffinityTerm{
				{AffinityName: ""}, {AffinityName: "a"}, {AffinityName: "a"}, {AffinityName: strings.Repeat("x", 33)}, {AffinityName: "-bad-"},
			}
		}, want: []string{
			required + "spec.placement.clusterAffinities[0].affinityName",
			duplicate + "spec.placement.clusterAffinities[2].affinityName",
			tooLong + "spec.placement.clusterAffinities[3].affinityName",
			invalid + "spec.placement.clusterAffinities[4].affinityName",
		}},
		{name: "affinity filters in clusterAffinities are checked", mutate: func(pp *policyv1alpha1.PropagationPolicy) {
			placement(pp).ClusterAffinity = nil
			placement(pp).ClusterAffinities = []policyv1alpha1.ClusterAffinityTerm{{AffinityName: "a", ClusterAffinity: policyv1alpha1.ClusterAffinity{
				FieldSelector: &policyv1alpha1.FieldSelector{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpExists}}}}}}
		}, want: []string{notSupported + "spec.placement.clusterAffinities[0].fieldSelector.matchExpressions[0].operator"}},
		{name: "fieldSelector key and operator", mutate: func(pp *policyv1alpha1.PropagationPolicy) {
			placement(pp).ClusterAffinity.FieldSelector.MatchExpressions[0] = corev1.NodeSelectorRequirement{Key: "name", Operator: corev1.NodeSelectorOpGt}
		}, want: []string{notSupported + "spec.placement.clusterAffinity.fieldSelector.matchExpressions[0].key", notSupported + "spec.placement.clusterAffinity.fieldSelector.matchExpressions[0].operator"}},
		{name: "clusterAffinity labelSelector", mutate: func(pp *policyv1alpha1.PropagationPolicy) {
			placement(pp).ClusterAffinity.LabelSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"bad key!": "x"}}
		}, want: []string{invalid + "spec.placement.clusterAffinity.labelSelector.matchLabels"}},
		{name: "toleration errors", mutate: func(pp *policyv1alpha1.PropagationPolicy) {
			placement(pp).ClusterTolerations = []corev1.Toleration{
				{Key: "a", Operator: corev1.TolerationOpExists, Value: "x"},
				{Value: "x"},
				{Key: "bad key!", Operator: "Like", Effect: "Sometimes"},
				{Key: "a", Value: "not a label value!", TolerationSeconds: ptr.To[int64](1), Effect: corev1.TaintEffectNoSchedule},
				{Key: "a", Operator: corev1.TolerationOpGt, Value: "1"},
			}
		}, want: []string{
			invalid + "spec.placement.clusterTolerations[0].operator",
			invalid + "spec.placement.clusterTolerations[1].operator",
			invalid + "spec.placement.clusterTolerations[2].key",
			notSupported + "spec.placement.clusterTolerations[2].operator",
			notSupported + "spec.placement.clusterTolerations[2].effect",
			invalid + "spec.placement.clusterTolerations[3].value",
			invalid + "spec.placement.clusterTolerations[3].effect",
			notSupported + "spec.placement.clusterTolerations[4].operator",
		}},
		{name: "spreadByField and spreadByLabel together", mutate: func(pp *policyv1alpha1.PropagationPolicy) {
			placement(pp).SpreadConstraints[0].SpreadByLabel = "rack"
		}, want: []string{forbidden + "spec.placement.spreadConstraints[0].spreadByLabel"}},
		{name: "unknown spreadByField and invalid spreadByLabel", mutate: func(pp *policyv1alpha1.PropagationPolicy) {
			placement(pp).SpreadConstraints = []policyv1alpha1.SpreadConstraint{{SpreadByField: "rack"}, {SpreadByLabel: "bad key!"}}
		}, want: []string{notSupported + "spec.placement.spreadConstraints[0].spreadByField", invalid + "spec.placement.spreadConstraints[1].spreadByLabel"}},
		{name: "minGroups greater than maxGroups, negative groups", mutate: func(pp *policyv1alpha1.PropagationPolicy) {
			placement(pp).SpreadConstraints[0].MinGroups = 3
			placement(pp).SpreadConstraints[1].MinGroups, placement(pp).SpreadConstraints[1].MaxGroups = -1, -1
		}, want: []string{invalid + "spec.placement.spreadConstraints[0].maxGroups", invalid + "spec.placement.spreadConstraints[1].minGroups", invalid + "spec.placement.spreadConstraints[1].maxGroups"}},
		{name: "a field spread without a cluster constraint", mutate: func(pp *policyv1alpha1.PropagationPolicy) {
			placement(pp).SpreadConstraints = placement(pp).SpreadConstraints[:1]
		}, want: []string{invalid + "spec.placement.spreadConstraints"}},
		{name: "the same field twice", mutate: func(pp *policyv1alpha1.PropagationPolicy) {
			placement(pp).SpreadConstraints = append(placement(pp).SpreadConstraints, policyv1alpha1.SpreadConstraint{SpreadByField: policyv1alpha1.SpreadByFieldCluster})
		}, want: []string{duplicate + "spec.placement.spreadConstraints[2].spreadByField"}},
		{name: "a label spread needs no cluster constraint", mutate: func(pp *policyv1alpha1.PropagationPolicy) {
			placement(pp).SpreadConstraints = []policyv1alpha1.SpreadConstraint{{SpreadByLabel: "topology.example.com/rack", MinGroups: 2}}
		}},
		{name: "unknown replicaSchedulingType and replicaDivisionPreference", mutate: func(pp *policyv1alpha1.PropagationPolicy) {
			placement(pp).ReplicaScheduling.ReplicaSchedulingType = "Split"
			placement(pp).ReplicaScheduling.ReplicaDivisionPreference = "Even"
		}, want: []string{notSupported + "spec.placement.replicaScheduling.replicaSchedulingType", notSupported + "spec.placement.replicaScheduling.replicaDivisionPreference"}},
		{name: "weight below 1", mutate: func(pp *policyv1alpha1.PropagationPolicy) { weights(pp).StaticWeightList[0].Weight = 0 },
			want: []string{invalid + "spec.placement.replicaScheduling.weightPreference.staticWeightList[0].weight"}},
		{name: "staticWeightList targetCluster is an affinity", mutate: func(pp *policyv1alpha1.PropagationPolicy) {
			weights(pp).StaticWeightList[1].TargetCluster.FieldSelector = &policyv1alpha1.FieldSelector{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "city", Operator: corev1.NodeSelectorOpIn}}}
		}, want: []string{notSupported + "spec.placement.replicaScheduling.weightPreference.staticWeightList[1].targetCluster.fieldSelector.matchExpressions[0].key"}},
		{name: "staticWeightList with dynamicWeight is accepted, as by Karmada", mutate: func(pp *policyv1alpha1.PropagationPolicy) {
			weights(pp).DynamicWeight = policyv1alpha1.DynamicWeightByAvailableReplicas
		}},
		{name: "unknown dynamicWeight", mutate: func(pp *policyv1alpha1.PropagationPolicy) {
			pp.Spec.Placement.ReplicaScheduling.WeightPreference = &policyv1alpha1.ClusterPreferences{DynamicWeight: "FreeMemory"}
		}, want: []string{notSupported + "spec.placement.replicaScheduling.weightPreference.dynamicWeight"}},
		{name: "suspension dispatching with dispatchingOnClusters", mutate: func(pp *policyv1alpha1.PropagationPolicy) {
			pp.Spec.Suspension = &policyv1alpha1.Suspension{Dispatching: ptr.To(true), DispatchingOnClusters: &policyv1alpha1.SuspendClusters{ClusterNames: []string{"member1"}}}
		}, want: []string{forbidden + "spec.suspension.dispatchingOnClusters"}},
		{name: "schedulePriority", mutate: func(pp *policyv1alpha1.PropagationPolicy) {
			pp.Spec.SchedulePriority = &policyv1alpha1.SchedulePriority{PriorityClassSource: "Other"}
		}, want: []string{notSupported + "spec.schedulePriority.priorityClassSource", required + "spec.schedulePriority.priorityClassName"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pp := validPP()
			tt.mutate(pp)
			if got := errs(ValidatePropagationPolicy(pp)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors:\n got  %q\n want %q", got, tt.want)
			}
			// Defaulting never makes an invalid policy valid or a valid one invalid.
			SetPropagationPolicyDefaults(pp)
			if got := errs(ValidatePropagationPolicy(pp)); (len(got) == 0) != (len(tt.want) == 0) {
				t.Errorf("after defaulting: %q", got)
			}
		})
	}
}

func TestValidateClusterPropagationPolicy(t *testing.T) {
	tests := []struct {
		name     string
		manifest string
		want     []string
	}{
		{
			name: "selectors may name any namespace",
			manifest: `
metadata: {name: crds}
spec:
  resourceSelectors:
  - {apiVersion: apiextensions.k8s.io/v1, kind: CustomResourceDefinition}
  - {apiVersion: v1, kind: ConfigMap, namespace: team-a}
  placement:
    clusterAffinity: {exclude: [member9]}
    replicaScheduling: {replicaSchedulingType: Duplicated}
  priority: -1`,
		},
		{
			name:     "no selectors",
			manifest: "metadata: {name: c}\nspec: {resourceSelectors: []}",
			want:     []string{"FieldValueRequired spec.resourceSelectors"},
		},
		{
			name:     "placement rules apply",
			manifest: "metadata: {name: c}\nspec:\n  resourceSelectors: [{apiVersion: v1, kind: Secret}]\n  placement: {spreadConstraints: [{spreadByField: zone}]}",
			want:     []string{"FieldValueInvalid spec.placement.spreadConstraints"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cpp policyv1alpha1.ClusterPropagationPolicy
			if err := yaml.UnmarshalStrict([]byte(tt.manifest), &cpp); err != nil {
				t.Fatal(err)
			}
			if got := errs(ValidateClusterPropagationPolicy(&cpp)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors:\n got  %q\n want %q", got, tt.want)
			}
		})
	}
}

// TestValidateWalkthroughPolicy: the policy of WALKTHROUGH.md is valid as written.
func TestValidateWalkthroughPolicy(t *testing.T) {
	const manifest = `
apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata:
  name: example-policy
  namespace: default
spec:
  resourceSelectors:
    - apiVersion: apps/v1
      kind: Deployment
      name: nginx
  placement:
    clusterAffinity:
      clusterNames:
        - cluster1
        - cluster2
`
	var pp policyv1alpha1.PropagationPolicy
	if err := yaml.UnmarshalStrict([]byte(manifest), &pp); err != nil {
		t.Fatal(err)
	}
	if got := ValidatePropagationPolicy(&pp); len(got) != 0 {
		t.Errorf("errors: %v", got)
	}
}
