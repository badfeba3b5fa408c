package validation

import (
	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
)

// DefaultSchedulerName is the schedulerName of a policy that names none.
const DefaultSchedulerName = "default-scheduler"

// SetPropagationDefaults applies Karmada's defaults to spec in place; applying them twice is the
// same as once:
//   - priority 0, preemption Never, conflictResolution Abort, schedulerName default-scheduler;
//   - a spread constraint without spreadByField and spreadByLabel spreads by cluster, and
//     minGroups 0 becomes 1;
//   - a replicaScheduling block without type is Divided, and Divided without
//     replicaDivisionPreference is Weighted.
func SetPropagationDefaults(spec *policyv1alpha1.PropagationSpec) {
	if spec.Priority == nil {
		var zero int32
		spec.Priority = &zero
	}
	if spec.Preemption == "" {
		spec.Preemption = policyv1alpha1.PreemptNever
	}
	if spec.ConflictResolution == "" {
		spec.ConflictResolution = policyv1alpha1.ConflictAbort
	}
	if spec.SchedulerName == "" {
		spec.SchedulerName = DefaultSchedulerName
	}
	for i := range spec.Placement.SpreadConstraints {
		sc := &spec.Placement.SpreadConstraints[i]
		if sc.SpreadByField == "" && sc.SpreadByLabel == "" {
			sc.SpreadByField = policyv1alpha1.SpreadByFieldCluster
		}
		if sc.MinGroups == 0 {
			sc.MinGroups = 1
		}
	}
	if rs := spec.Placement.ReplicaScheduling; rs != nil {
		if rs.ReplicaSchedulingType == "" {
			rs.ReplicaSchedulingType = policyv1alpha1.ReplicaSchedulingTypeDivided
		}
		if rs.ReplicaSchedulingType == policyv1alpha1.ReplicaSchedulingTypeDivided && rs.ReplicaDivisionPreference == "" {
			rs.ReplicaDivisionPreference = policyv1alpha1.ReplicaDivisionPreferenceWeighted
		}
	}
}

// SetPropagationPolicyDefaults applies SetPropagationDefaults and, as Karmada's webhook does,
// writes the policy's namespace into resource selectors that have none (same meaning, explicit).
func SetPropagationPolicyDefaults(pp *policyv1alpha1.PropagationPolicy) {
	SetPropagationDefaults(&pp.Spec)
	if pp.Namespace == "" {
		return
	}
	for i := range pp.Spec.ResourceSelectors {
		if pp.Spec.ResourceSelectors[i].Namespace == "" {
			pp.Spec.ResourceSelectors[i].Namespace = pp.Namespace
		}
	}
}

// SetClusterPropagationPolicyDefaults applies SetPropagationDefaults to cpp.
func SetClusterPropagationPolicyDefaults(cpp *policyv1alpha1.ClusterPropagationPolicy) {
	SetPropagationDefaults(&cpp.Spec)
}
