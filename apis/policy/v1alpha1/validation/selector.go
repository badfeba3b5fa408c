package validation

import (
	"fmt"

	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
)

// ValidateResourceSelectors validates the resource selectors of a policy. policyNamespace is the
// namespace of a namespaced policy, whose selectors may not name another namespace, or "" for a
// cluster-scoped policy.
func ValidateResourceSelectors(selectors []policyv1alpha1.ResourceSelector, policyNamespace string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i := range selectors {
		errs = append(errs, ValidateResourceSelector(&selectors[i], policyNamespace, fldPath.Index(i))...)
	}
	return errs
}

// ValidateResourceSelector validates one resource selector: apiVersion and kind are required,
// the namespace of a namespaced policy's selector is empty or the policy's own, and the
// labelSelector is a valid label selector.
func ValidateResourceSelector(rs *policyv1alpha1.ResourceSelector, policyNamespace string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if rs.APIVersion == "" {
		errs = append(errs, field.Required(fldPath.Child("apiVersion"), ""))
	} else if _, err := schema.ParseGroupVersion(rs.APIVersion); err != nil {
		errs = append(errs, field.Invalid(fldPath.Child("apiVersion"), rs.APIVersion, err.Error()))
	}
	if rs.Kind == "" {
		errs = append(errs, field.Required(fldPath.Child("kind"), ""))
	}
	if policyNamespace != "" && rs.Namespace != "" && rs.Namespace != policyNamespace {
		errs = append(errs, field.Invalid(fldPath.Child("namespace"), rs.Namespace,
			fmt.Sprintf("must be empty or the policy's own namespace %q", policyNamespace)))
	}
	if rs.LabelSelector != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(rs.LabelSelector, metav1validation.LabelSelectorValidationOptions{}, fldPath.Child("labelSelector"))...)
	}
	return errs
}
