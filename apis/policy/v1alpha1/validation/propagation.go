// Package validation owns the admission rules of the policy.karmada.io/v1alpha1 kinds: defaulting
// and validation with Karmada's semantics, reporting every problem with its exact field path
// (spec.placement.replicaScheduling.weightPreference.staticWeightList[0].weight, ...). The
// propagation*.go files cover PropagationPolicy and ClusterPropagationPolicy, the override*.go
// files OverridePolicy and ClusterOverridePolicy.
//
// It does not match policies to objects, schedule or apply overrides (propagate/ does), and it
// reads nothing but the object it is given.
package validation

import (
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
)

// ValidatePropagationPolicy checks pp as Karmada's webhook and CRD schema would, plus the rule
// that a selector's namespace, when set, is the policy's own. It does not require defaults to
// have been applied.
func ValidatePropagationPolicy(pp *policyv1alpha1.PropagationPolicy) field.ErrorList {
	allErrs := validatePropagationName(pp.Name)
	return append(allErrs, validatePropagationSpec(&pp.Spec, pp.Namespace, field.NewPath("spec"))...)
}

// ValidateClusterPropagationPolicy checks cpp as Karmada's webhook and CRD schema would. It does
// not require defaults to have been applied.
func ValidateClusterPropagationPolicy(cpp *policyv1alpha1.ClusterPropagationPolicy) field.ErrorList {
	allErrs := validatePropagationName(cpp.Name)
	return append(allErrs, validatePropagationSpec(&cpp.Spec, "", field.NewPath("spec"))...)
}

// validatePropagationName: the policy's name is recorded as a label value on claimed objects.
func validatePropagationName(name string) field.ErrorList {
	if len(name) > validation.LabelValueMaxLength {
		return field.ErrorList{field.TooLong(field.NewPath("metadata", "name"), name, validation.LabelValueMaxLength)}
	}
	return nil
}

// validatePropagationSpec checks spec; policyNamespace is "" for a ClusterPropagationPolicy.
func validatePropagationSpec(spec *policyv1alpha1.PropagationSpec, policyNamespace string, fldPath *field.Path) field.ErrorList {
	allErrs := validatePropagationSelectors(spec, policyNamespace, fldPath.Child("resourceSelectors"))
	allErrs = append(allErrs, validatePlacement(&spec.Placement, fldPath.Child("placement"))...)
	allErrs = append(allErrs, validatePropagationEnums(spec, fldPath)...)
	if s := spec.Suspension; s != nil && s.Dispatching != nil && *s.Dispatching &&
		s.DispatchingOnClusters != nil && len(s.DispatchingOnClusters.ClusterNames) > 0 {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("suspension", "dispatchingOnClusters"),
			"may not be set together with dispatching: true"))
	}
	if sp := spec.SchedulePriority; sp != nil {
		p := fldPath.Child("schedulePriority")
		if sp.PriorityClassSource != "" && sp.PriorityClassSource != policyv1alpha1.KubePriorityClass {
			allErrs = append(allErrs, field.NotSupported(p.Child("priorityClassSource"), sp.PriorityClassSource,
				[]policyv1alpha1.PriorityClassSource{policyv1alpha1.KubePriorityClass}))
		}
		if sp.PriorityClassName == "" {
			allErrs = append(allErrs, field.Required(p.Child("priorityClassName"), ""))
		}
	}
	return allErrs
}

// validatePropagationSelectors: at least one selector, each valid (ValidateResourceSelector), and
// each with a name when the policy preempts (Karmada: a preempting selector without a name could
// take unexpected objects).
func validatePropagationSelectors(spec *policyv1alpha1.PropagationSpec, policyNamespace string, fldPath *field.Path) field.ErrorList {
	if len(spec.ResourceSelectors) == 0 {
		return field.ErrorList{field.Required(fldPath, "at least one resource selector is required")}
	}
	allErrs := ValidateResourceSelectors(spec.ResourceSelectors, policyNamespace, fldPath)
	if spec.Preemption != policyv1alpha1.PreemptAlways {
		return allErrs
	}
	for i, rs := range spec.ResourceSelectors {
		if rs.Name == "" {
			allErrs = append(allErrs, field.Invalid(fldPath.Index(i).Child("name"), rs.Name,
				"must be set when preemption is Always, so that the policy cannot take objects it does not name"))
		}
	}
	return allErrs
}

// validatePropagationEnums checks the enumerated fields of the spec.
func validatePropagationEnums(spec *policyv1alpha1.PropagationSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch spec.Preemption {
	case "", policyv1alpha1.PreemptAlways, policyv1alpha1.PreemptNever:
	default:
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("preemption"), spec.Preemption,
			[]policyv1alpha1.PreemptionBehavior{policyv1alpha1.PreemptAlways, policyv1alpha1.PreemptNever}))
	}
	switch spec.ConflictResolution {
	case "", policyv1alpha1.ConflictAbort, policyv1alpha1.ConflictOverwrite:
	default:
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("conflictResolution"), spec.ConflictResolution,
			[]policyv1alpha1.ConflictResolution{policyv1alpha1.ConflictAbort, policyv1alpha1.ConflictOverwrite}))
	}
	switch spec.ActivationPreference {
	case "", policyv1alpha1.LazyActivation:
	default:
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("activationPreference"), spec.ActivationPreference,
			[]policyv1alpha1.ActivationPreference{policyv1alpha1.LazyActivation}))
	}
	return allErrs
}
