package override

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
)

// AppliedPolicy records one rule that Apply ran.
type AppliedPolicy struct {
	// Policy names the policy the rule belongs to.
	Policy PolicyRef
	// Rule is the rule's index in spec.overrideRules, or DeprecatedRule.
	Rule int
	// Overriders are the rule's overriders (shared with the policy; read-only).
	Overriders *policyv1alpha1.Overriders
}

// Error is the failure of one overrider of one policy rule. Its message names the policy, the
// overrider's place in the policy's spec and what went wrong, e.g.
//
//	OverridePolicy default/foo: overrideRules[0].overriders.plaintext[1]: path "/spec/nope" not found
type Error struct {
	// Policy names the policy.
	Policy PolicyRef
	// Field is the overrider's path relative to the policy's spec.
	Field *field.Path
	// Err is what went wrong.
	Err error
}

func (e *Error) Error() string {
	return e.Policy.String() + ": " + e.Field.String() + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Apply returns a copy of obj with the rules of policies applied in order (policies as Select
// returns them), and the list of the rules it ran. obj is never changed. Within one rule the
// overriders run in Karmada's order: image, command, args, labels, annotations, field,
// plaintext. The first overrider that cannot be applied stops everything: Apply then returns an
// *Error and no object.
func Apply(obj *unstructured.Unstructured, policies ...Applicable) (*unstructured.Unstructured, []AppliedPolicy, error) {
	if obj == nil {
		return nil, nil, errors.New("apply overrides: no object")
	}
	out := obj.DeepCopy()
	if out.Object == nil {
		out.Object = map[string]any{}
	}
	var applied []AppliedPolicy
	for _, p := range policies {
		for _, r := range p.Rules {
			if r.Overriders == nil {
				r.Overriders = &policyv1alpha1.Overriders{}
			}
			if err := applyOverriders(out, r.Overriders); err != nil {
				var oe *overriderError
				if !errors.As(err, &oe) {
					return nil, nil, &Error{Policy: p.Policy, Field: rulePath(r.Index), Err: err}
				}
				return nil, nil, &Error{Policy: p.Policy, Field: oe.path(rulePath(r.Index)), Err: oe.err}
			}
			applied = append(applied, AppliedPolicy{Policy: p.Policy, Rule: r.Index, Overriders: r.Overriders})
		}
	}
	return out, applied, nil
}

// ApplyForCluster is Apply(obj, Select(obj, cluster, cops, ops)...).
func ApplyForCluster(obj *unstructured.Unstructured, cluster *clusterv1alpha1.Cluster, cops []*policyv1alpha1.ClusterOverridePolicy, ops []*policyv1alpha1.OverridePolicy) (*unstructured.Unstructured, []AppliedPolicy, error) {
	return Apply(obj, Select(obj, cluster, cops, ops)...)
}

// rulePath is the path of a rule's overriders relative to the policy's spec.
func rulePath(index int) *field.Path {
	if index == DeprecatedRule {
		return field.NewPath("overriders")
	}
	return field.NewPath("overrideRules").Index(index).Child("overriders")
}

// overriderError locates an error inside a rule: overriders.<name>[index], optionally followed
// by a sub-operation (fieldOverrider[i].json[j]).
type overriderError struct {
	name     string
	index    int
	sub      string
	subIndex int
	err      error
}

func (e *overriderError) Error() string { return e.err.Error() }

func (e *overriderError) path(base *field.Path) *field.Path {
	p := base.Child(e.name).Index(e.index)
	if e.sub != "" {
		p = p.Child(e.sub).Index(e.subIndex)
	}
	return p
}

func at(name string, index int, err error) error {
	var sub *subOpError
	if errors.As(err, &sub) {
		return &overriderError{name: name, index: index, sub: sub.name, subIndex: sub.index, err: sub.err}
	}
	return &overriderError{name: name, index: index, err: err}
}

// subOpError locates an error in one operation of a fieldOverrider.
type subOpError struct {
	name  string
	index int
	err   error
}

func (e *subOpError) Error() string { return e.err.Error() }

// applyOverriders runs the overriders of one rule on obj, in Karmada's order.
func applyOverriders(obj *unstructured.Unstructured, o *policyv1alpha1.Overriders) error {
	for i := range o.ImageOverrider {
		if err := applyImage(obj, &o.ImageOverrider[i]); err != nil {
			return at("imageOverrider", i, err)
		}
	}
	for i := range o.CommandOverrider {
		if err := applyCommandArgs(obj, "command", &o.CommandOverrider[i]); err != nil {
			return at("commandOverrider", i, err)
		}
	}
	for i := range o.ArgsOverrider {
		if err := applyCommandArgs(obj, "args", &o.ArgsOverrider[i]); err != nil {
			return at("argsOverrider", i, err)
		}
	}
	for i := range o.LabelsOverrider {
		if err := applyStringMap(obj, "labels", &o.LabelsOverrider[i]); err != nil {
			return at("labelsOverrider", i, err)
		}
	}
	for i := range o.AnnotationsOverrider {
		if err := applyStringMap(obj, "annotations", &o.AnnotationsOverrider[i]); err != nil {
			return at("annotationsOverrider", i, err)
		}
	}
	for i := range o.FieldOverrider {
		if err := applyField(obj, &o.FieldOverrider[i]); err != nil {
			return at("fieldOverrider", i, err)
		}
	}
	for i := range o.Plaintext {
		if err := applyPlaintext(obj, &o.Plaintext[i]); err != nil {
			return at("plaintext", i, err)
		}
	}
	return nil
}

// AppliedOverride is one entry of the applied-overrides annotations, in Karmada's shape.
type AppliedOverride struct {
	// PolicyName is the policy's name (without namespace).
	PolicyName string `json:"policyName"`
	// Overriders are the overriders of the applied rule.
	Overriders policyv1alpha1.Overriders `json:"overriders"`
}

// AppliedAnnotations returns the annotations Karmada records on a per-cluster object:
// policyv1alpha1.AppliedClusterOverrides for the ClusterOverridePolicies and
// policyv1alpha1.AppliedOverrides for the OverridePolicies, each a JSON list of {policyName,
// overriders} with one entry per applied rule, sorted by policy name as Karmada does (rules of
// one policy stay in order). A kind without applied rules has no annotation.
func AppliedAnnotations(applied []AppliedPolicy) (map[string]string, error) {
	var cluster, namespaced []AppliedOverride
	for _, a := range applied {
		e := AppliedOverride{PolicyName: a.Policy.Name}
		if a.Overriders != nil {
			e.Overriders = *a.Overriders
		}
		if a.Policy.IsCluster() {
			cluster = append(cluster, e)
		} else {
			namespaced = append(namespaced, e)
		}
	}
	out := map[string]string{}
	for key, list := range map[string][]AppliedOverride{
		policyv1alpha1.AppliedClusterOverrides: cluster,
		policyv1alpha1.AppliedOverrides:        namespaced,
	} {
		if len(list) == 0 {
			continue
		}
		slices.SortStableFunc(list, func(a, b AppliedOverride) int { return strings.Compare(a.PolicyName, b.PolicyName) })
		b, err := json.Marshal(list)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", key, err)
		}
		out[key] = string(b)
	}
	return out, nil
}
