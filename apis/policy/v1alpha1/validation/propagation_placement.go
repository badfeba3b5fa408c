package validation

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
)

// affinityNameMaxLength is the longest clusterAffinities[].affinityName.
const affinityNameMaxLength = 32

// validatePlacement checks a placement at fldPath (spec.placement).
func validatePlacement(p *policyv1alpha1.Placement, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if p.ClusterAffinity != nil && len(p.ClusterAffinities) > 0 {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("clusterAffinities"), "may not be set together with clusterAffinity"))
	}
	allErrs = append(allErrs, ValidateClusterAffinity(p.ClusterAffinity, fldPath.Child("clusterAffinity"))...)
	names := sets.New[string]()
	for i := range p.ClusterAffinities {
		term := &p.ClusterAffinities[i]
		path := fldPath.Child("clusterAffinities").Index(i)
		namePath := path.Child("affinityName")
		switch {
		case term.AffinityName == "":
			allErrs = append(allErrs, field.Required(namePath, ""))
		case len(term.AffinityName) > affinityNameMaxLength:
			allErrs = append(allErrs, field.TooLong(namePath, term.AffinityName, affinityNameMaxLength))
		case names.Has(term.AffinityName):
			allErrs = append(allErrs, field.Duplicate(namePath, term.AffinityName))
		default:
			for _, msg := range validation.IsQualifiedName(term.AffinityName) {
				allErrs = append(allErrs, field.Invalid(namePath, term.AffinityName, msg))
			}
		}
		names.Insert(term.AffinityName)
		allErrs = append(allErrs, ValidateClusterAffinity(&term.ClusterAffinity, path)...)
	}
	allErrs = append(allErrs, validatePlacementTolerations(p.ClusterTolerations, fldPath.Child("clusterTolerations"))...)
	allErrs = append(allErrs, validatePlacementSpread(p.SpreadConstraints, fldPath.Child("spreadConstraints"))...)
	allErrs = append(allErrs, validatePlacementReplicas(p.ReplicaScheduling, fldPath.Child("replicaScheduling"))...)
	return allErrs
}

// validatePlacementTolerations applies the Kubernetes toleration rules (without the numeric
// operators, which clusterTolerations do not have).
func validatePlacementTolerations(tolerations []corev1.Toleration, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, t := range tolerations {
		p := fldPath.Index(i)
		if t.Key != "" {
			for _, msg := range validation.IsQualifiedName(t.Key) {
				allErrs = append(allErrs, field.Invalid(p.Child("key"), t.Key, msg))
			}
		}
		switch t.Operator {
		case corev1.TolerationOpExists:
			if t.Value != "" {
				allErrs = append(allErrs, field.Invalid(p.Child("operator"), t.Value, "value must be empty when `operator` is 'Exists'"))
			}
		case "", corev1.TolerationOpEqual:
			if t.Key == "" {
				allErrs = append(allErrs, field.Invalid(p.Child("operator"), t.Operator, "operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
			}
			for _, msg := range validation.IsValidLabelValue(t.Value) {
				allErrs = append(allErrs, field.Invalid(p.Child("value"), t.Value, msg))
			}
		default:
			allErrs = append(allErrs, field.NotSupported(p.Child("operator"), t.Operator,
				[]corev1.TolerationOperator{corev1.TolerationOpEqual, corev1.TolerationOpExists}))
		}
		switch t.Effect {
		case "", corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		default:
			allErrs = append(allErrs, field.NotSupported(p.Child("effect"), t.Effect,
				[]corev1.TaintEffect{corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute}))
		}
		if t.TolerationSeconds != nil && t.Effect != corev1.TaintEffectNoExecute {
			allErrs = append(allErrs, field.Invalid(p.Child("effect"), t.Effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
		}
	}
	return allErrs
}

// validatePlacementSpread checks the spread constraints. A constraint without spreadByField and
// spreadByLabel counts as spreadByField: cluster (its default). Spreading by region, zone or
// provider needs a cluster constraint as well (it says how many clusters to pick), and each
// field may be used once.
func validatePlacementSpread(constraints []policyv1alpha1.SpreadConstraint, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	seen := map[policyv1alpha1.SpreadFieldValue]bool{}
	byOtherField := false
	for i, sc := range constraints {
		p := fldPath.Index(i)
		if sc.SpreadByLabel != "" {
			if sc.SpreadByField != "" {
				allErrs = append(allErrs, field.Forbidden(p.Child("spreadByLabel"), "may not be set together with spreadByField"))
			}
			for _, msg := range validation.IsQualifiedName(sc.SpreadByLabel) {
				allErrs = append(allErrs, field.Invalid(p.Child("spreadByLabel"), sc.SpreadByLabel, msg))
			}
		}
		if sc.SpreadByField != "" || sc.SpreadByLabel == "" {
			f := sc.SpreadByField
			if f == "" {
				f = policyv1alpha1.SpreadByFieldCluster
			}
			switch f {
			case policyv1alpha1.SpreadByFieldCluster:
			case policyv1alpha1.SpreadByFieldRegion, policyv1alpha1.SpreadByFieldZone, policyv1alpha1.SpreadByFieldProvider:
				byOtherField = true
			default:
				allErrs = append(allErrs, field.NotSupported(p.Child("spreadByField"), sc.SpreadByField, []policyv1alpha1.SpreadFieldValue{
					policyv1alpha1.SpreadByFieldCluster, policyv1alpha1.SpreadByFieldRegion, policyv1alpha1.SpreadByFieldZone, policyv1alpha1.SpreadByFieldProvider}))
			}
			if seen[f] {
				allErrs = append(allErrs, field.Duplicate(p.Child("spreadByField"), f))
			}
			seen[f] = true
		}
		if sc.MinGroups < 0 {
			allErrs = append(allErrs, field.Invalid(p.Child("minGroups"), sc.MinGroups, "must be greater than or equal to 0"))
		}
		if sc.MaxGroups < 0 {
			allErrs = append(allErrs, field.Invalid(p.Child("maxGroups"), sc.MaxGroups, "must be greater than or equal to 0"))
		} else if sc.MaxGroups > 0 && sc.MaxGroups < sc.MinGroups {
			allErrs = append(allErrs, field.Invalid(p.Child("maxGroups"), sc.MaxGroups,
				fmt.Sprintf("must be greater than or equal to minGroups (%d)", sc.MinGroups)))
		}
	}
	if byOtherField && !seen[policyv1alpha1.SpreadByFieldCluster] {
		allErrs = append(allErrs, field.Invalid(fldPath, len(constraints),
			"spreading by region, zone or provider requires a constraint with spreadByField: cluster as well"))
	}
	return allErrs
}

// validatePlacementReplicas checks replicaScheduling.
func validatePlacementReplicas(rs *policyv1alpha1.ReplicaSchedulingStrategy, fldPath *field.Path) field.ErrorList {
	if rs == nil {
		return nil
	}
	var allErrs field.ErrorList
	switch rs.ReplicaSchedulingType {
	case "", policyv1alpha1.ReplicaSchedulingTypeDuplicated, policyv1alpha1.ReplicaSchedulingTypeDivided:
	default:
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("replicaSchedulingType"), rs.ReplicaSchedulingType,
			[]policyv1alpha1.ReplicaSchedulingType{policyv1alpha1.ReplicaSchedulingTypeDuplicated, policyv1alpha1.ReplicaSchedulingTypeDivided}))
	}
	switch rs.ReplicaDivisionPreference {
	case "", policyv1alpha1.ReplicaDivisionPreferenceAggregated, policyv1alpha1.ReplicaDivisionPreferenceWeighted:
	default:
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("replicaDivisionPreference"), rs.ReplicaDivisionPreference,
			[]policyv1alpha1.ReplicaDivisionPreference{policyv1alpha1.ReplicaDivisionPreferenceAggregated, policyv1alpha1.ReplicaDivisionPreferenceWeighted}))
	}
	wp := rs.WeightPreference
	if wp == nil {
		return allErrs
	}
	wpPath := fldPath.Child("weightPreference")
	for i := range wp.StaticWeightList {
		p := wpPath.Child("staticWeightList").Index(i)
		if w := wp.StaticWeightList[i].Weight; w < 1 {
			allErrs = append(allErrs, field.Invalid(p.Child("weight"), w, "must be greater than or equal to 1"))
		}
		allErrs = append(allErrs, ValidateClusterAffinity(&wp.StaticWeightList[i].TargetCluster, p.Child("targetCluster"))...)
	}
	// Karmada accepts staticWeightList together with dynamicWeight (dynamicWeight wins), so do we.
	switch wp.DynamicWeight {
	case "", policyv1alpha1.DynamicWeightByAvailableReplicas:
	default:
		allErrs = append(allErrs, field.NotSupported(wpPath.Child("dynamicWeight"), wp.DynamicWeight,
			[]policyv1alpha1.DynamicWeightFactor{policyv1alpha1.DynamicWeightByAvailableReplicas}))
	}
	return allErrs
}
