package validation

import (
	"encoding/json"
	"slices"
	"strings"

	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
)

// ValidateOverridePolicy checks op as Karmada's webhook and CRD schema would, plus the rules
// that keep the override engine from failing later: a selector's namespace, when set, is the
// policy's own; every path is a JSON pointer; every operator, component and value fits its
// overrider.
func ValidateOverridePolicy(op *policyv1alpha1.OverridePolicy) field.ErrorList {
	return ValidateOverrideSpec(&op.Spec, op.Namespace, field.NewPath("spec"))
}

// ValidateClusterOverridePolicy checks cop like ValidateOverridePolicy; its selectors may name
// any namespace.
func ValidateClusterOverridePolicy(cop *policyv1alpha1.ClusterOverridePolicy) field.ErrorList {
	return ValidateOverrideSpec(&cop.Spec, "", field.NewPath("spec"))
}

// ValidateOverrideSpec checks the spec of an OverridePolicy (policyNamespace is its namespace) or
// of a ClusterOverridePolicy (policyNamespace "").
func ValidateOverrideSpec(spec *policyv1alpha1.OverrideSpec, policyNamespace string, fldPath *field.Path) field.ErrorList {
	allErrs := ValidateResourceSelectors(spec.ResourceSelectors, policyNamespace, fldPath.Child("resourceSelectors"))
	//nolint:staticcheck // the deprecated top-level form is still accepted and validated
	target, overriders := spec.TargetCluster, &spec.Overriders
	if spec.OverrideRules != nil {
		if target != nil {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("targetCluster"), "may not be set together with overrideRules"))
		}
		if !emptyOverriders(overriders) {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("overriders"), "may not be set together with overrideRules"))
		}
	}
	allErrs = append(allErrs, ValidateClusterAffinity(target, fldPath.Child("targetCluster"))...)
	allErrs = append(allErrs, validateOverriders(overriders, fldPath.Child("overriders"))...)
	for i := range spec.OverrideRules {
		rule := &spec.OverrideRules[i]
		p := fldPath.Child("overrideRules").Index(i)
		allErrs = append(allErrs, ValidateClusterAffinity(rule.TargetCluster, p.Child("targetCluster"))...)
		allErrs = append(allErrs, validateOverriders(&rule.Overriders, p.Child("overriders"))...)
	}
	return allErrs
}

func emptyOverriders(o *policyv1alpha1.Overriders) bool {
	return len(o.Plaintext) == 0 && len(o.ImageOverrider) == 0 && len(o.CommandOverrider) == 0 &&
		len(o.ArgsOverrider) == 0 && len(o.LabelsOverrider) == 0 && len(o.AnnotationsOverrider) == 0 &&
		len(o.FieldOverrider) == 0
}

var (
	allOperators = []policyv1alpha1.OverriderOperator{policyv1alpha1.OverriderOpAdd, policyv1alpha1.OverriderOpRemove, policyv1alpha1.OverriderOpReplace}
	addRemove    = []policyv1alpha1.OverriderOperator{policyv1alpha1.OverriderOpAdd, policyv1alpha1.OverriderOpRemove}
	components   = []policyv1alpha1.ImageComponent{policyv1alpha1.Registry, policyv1alpha1.Repository, policyv1alpha1.Tag}
)

// validateOverriders checks every overrider of one rule.
func validateOverriders(o *policyv1alpha1.Overriders, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i := range o.Plaintext {
		pt := &o.Plaintext[i]
		p := fldPath.Child("plaintext").Index(i)
		allErrs = append(allErrs, validatePointer(pt.Path, false, p.Child("path"))...)
		allErrs = append(allErrs, validateOperatorValue(pt.Operator, pt.Value, p)...)
	}
	for i := range o.ImageOverrider {
		allErrs = append(allErrs, validateImageOverrider(&o.ImageOverrider[i], fldPath.Child("imageOverrider").Index(i))...)
	}
	allErrs = append(allErrs, validateCommandArgs(o.CommandOverrider, fldPath.Child("commandOverrider"))...)
	allErrs = append(allErrs, validateCommandArgs(o.ArgsOverrider, fldPath.Child("argsOverrider"))...)
	for i := range o.LabelsOverrider {
		la := &o.LabelsOverrider[i]
		p := fldPath.Child("labelsOverrider").Index(i)
		allErrs = append(allErrs, validateMapOverrider(la, p)...)
		allErrs = append(allErrs, metav1validation.ValidateLabels(la.Value, p.Child("value"))...)
	}
	for i := range o.AnnotationsOverrider {
		la := &o.AnnotationsOverrider[i]
		p := fldPath.Child("annotationsOverrider").Index(i)
		allErrs = append(allErrs, validateMapOverrider(la, p)...)
		allErrs = append(allErrs, apivalidation.ValidateAnnotations(la.Value, p.Child("value"))...)
	}
	for i := range o.FieldOverrider {
		allErrs = append(allErrs, validateFieldOverrider(&o.FieldOverrider[i], fldPath.Child("fieldOverrider").Index(i))...)
	}
	return allErrs
}

// validateOperatorValue: the operator is add, remove or replace; add and replace need a valid
// JSON value, remove takes none.
func validateOperatorValue(op policyv1alpha1.OverriderOperator, value policyv1alpha1.JSON, fldPath *field.Path) field.ErrorList {
	if !slices.Contains(allOperators, op) {
		return field.ErrorList{field.NotSupported(fldPath.Child("operator"), op, allOperators)}
	}
	switch {
	case op == policyv1alpha1.OverriderOpRemove && len(value.Raw) > 0:
		return field.ErrorList{field.Forbidden(fldPath.Child("value"), "may not be set for remove")}
	case op != policyv1alpha1.OverriderOpRemove && len(value.Raw) == 0:
		return field.ErrorList{field.Required(fldPath.Child("value"), "required for add and replace")}
	case len(value.Raw) > 0 && !json.Valid(value.Raw):
		return field.ErrorList{field.Invalid(fldPath.Child("value"), string(value.Raw), "must be a JSON value")}
	}
	return nil
}

func validateImageOverrider(io *policyv1alpha1.ImageOverrider, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if io.Predicate != nil {
		allErrs = append(allErrs, validatePointer(io.Predicate.Path, false, fldPath.Child("predicate", "path"))...)
	}
	if !slices.Contains(components, io.Component) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("component"), io.Component, components))
	}
	switch {
	case !slices.Contains(allOperators, io.Operator):
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("operator"), io.Operator, allOperators))
	case io.Operator == policyv1alpha1.OverriderOpRemove && io.Value != "":
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("value"), "may not be set for remove"))
	case io.Operator != policyv1alpha1.OverriderOpRemove && io.Value == "":
		allErrs = append(allErrs, field.Required(fldPath.Child("value"), "required for add and replace"))
	}
	return allErrs
}

func validateCommandArgs(list []policyv1alpha1.CommandArgsOverrider, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, ca := range list {
		p := fldPath.Index(i)
		if ca.ContainerName == "" {
			allErrs = append(allErrs, field.Required(p.Child("containerName"), ""))
		}
		if !slices.Contains(addRemove, ca.Operator) {
			allErrs = append(allErrs, field.NotSupported(p.Child("operator"), ca.Operator, addRemove))
		}
	}
	return allErrs
}

// validateMapOverrider: add and replace need keys to set; remove lists the keys to delete in
// value, so a value is allowed there.
func validateMapOverrider(la *policyv1alpha1.LabelAnnotationOverrider, fldPath *field.Path) field.ErrorList {
	if !slices.Contains(allOperators, la.Operator) {
		return field.ErrorList{field.NotSupported(fldPath.Child("operator"), la.Operator, allOperators)}
	}
	if la.Operator != policyv1alpha1.OverriderOpRemove && len(la.Value) == 0 {
		return field.ErrorList{field.Required(fldPath.Child("value"), "required for add and replace")}
	}
	return nil
}

func validateFieldOverrider(fo *policyv1alpha1.FieldOverrider, fldPath *field.Path) field.ErrorList {
	allErrs := validatePointer(fo.FieldPath, false, fldPath.Child("fieldPath"))
	switch {
	case len(fo.JSON) > 0 && len(fo.YAML) > 0:
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("yaml"), "may not be set together with json"))
	case len(fo.JSON) == 0 && len(fo.YAML) == 0:
		allErrs = append(allErrs, field.Required(fldPath, "one of json or yaml is required"))
	}
	for i, op := range fo.JSON {
		p := fldPath.Child("json").Index(i)
		allErrs = append(allErrs, validatePointer(op.SubPath, true, p.Child("subPath"))...)
		allErrs = append(allErrs, validateOperatorValue(op.Operator, op.Value, p)...)
	}
	for i, op := range fo.YAML {
		p := fldPath.Child("yaml").Index(i)
		allErrs = append(allErrs, validatePointer(op.SubPath, true, p.Child("subPath"))...)
		allErrs = append(allErrs, validateOperatorValue(op.Operator, op.Value, p)...)
	}
	return allErrs
}

// validatePointer checks that s is a JSON pointer (RFC 6901): empty (the whole document, only
// where allowEmpty) or "/"-separated tokens in which "~" is always followed by 0 or 1.
func validatePointer(s string, allowEmpty bool, fldPath *field.Path) field.ErrorList {
	if s == "" {
		if allowEmpty {
			return nil
		}
		return field.ErrorList{field.Required(fldPath, "must be a JSON pointer such as /spec/replicas")}
	}
	if s[0] != '/' {
		return field.ErrorList{field.Invalid(fldPath, s, `must be a JSON pointer: start with "/"`)}
	}
	for rest := s; ; {
		i := strings.IndexByte(rest, '~')
		if i < 0 {
			return nil
		}
		if i+1 >= len(rest) || (rest[i+1] != '0' && rest[i+1] != '1') {
			return field.ErrorList{field.Invalid(fldPath, s, `must be a JSON pointer: "~" must be followed by 0 or 1`)}
		}
		rest = rest[i+2:]
	}
}
