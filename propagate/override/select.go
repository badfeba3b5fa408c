package override

import (
	"cmp"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	"github.com/fleetgate/fleetgate/propagate/selector"
)

// PolicyRef names a ClusterOverridePolicy or an OverridePolicy.
type PolicyRef struct {
	// Kind is policyv1alpha1.ResourceKindClusterOverridePolicy or ResourceKindOverridePolicy.
	Kind string
	// Namespace is empty for a ClusterOverridePolicy.
	Namespace string
	// Name is the policy's name.
	Name string
}

// String is "ClusterOverridePolicy name" or "OverridePolicy namespace/name".
func (r PolicyRef) String() string {
	if r.Namespace == "" {
		return r.Kind + " " + r.Name
	}
	return r.Kind + " " + r.Namespace + "/" + r.Name
}

// IsCluster reports whether r names a ClusterOverridePolicy.
func (r PolicyRef) IsCluster() bool {
	return r.Kind == policyv1alpha1.ResourceKindClusterOverridePolicy
}

// Applicable is one policy that applies to an object in one cluster, with its rules for that
// cluster, in order.
type Applicable struct {
	// Policy names the policy.
	Policy PolicyRef
	// Specificity is how the policy's best resource selector matched the object (MatchAll for a
	// policy without selectors).
	Specificity selector.Specificity
	// Rules are the policy's rules whose targetCluster selects the cluster, in order.
	Rules []Rule
}

// DeprecatedRule is the Rule.Index of the old top-level targetCluster + overriders form.
const DeprecatedRule = -1

// Rule is one override rule of a policy.
type Rule struct {
	// Index is the rule's position in spec.overrideRules, or DeprecatedRule for the top-level
	// spec.targetCluster + spec.overriders.
	Index int
	// Overriders point into the policy; nothing here writes through them.
	Overriders *policyv1alpha1.Overriders
}

// Select returns the policies that apply to obj in cluster, in the order their rules must run:
// every matching ClusterOverridePolicy, then every matching OverridePolicy of obj's namespace;
// within each group the least specific first (match-all, then labelSelector, then name), ties by
// name ascending, so that the most specific policy runs last and wins.
//
// A policy matches when any of its resource selectors selects obj (no selectors: every object in
// its namespace, or every object for a ClusterOverridePolicy); policies being deleted and
// OverridePolicies of other namespaces are skipped. For each matching policy Select keeps the
// rules whose targetCluster selects cluster (no targetCluster: every cluster); a policy
// without overrideRules has one rule, its top-level targetCluster + overriders. Policies left
// without rules are dropped.
func Select(obj *unstructured.Unstructured, cluster *clusterv1alpha1.Cluster, cops []*policyv1alpha1.ClusterOverridePolicy, ops []*policyv1alpha1.OverridePolicy) []Applicable {
	var out []Applicable
	var group []candidate
	for _, p := range cops {
		if p == nil || p.DeletionTimestamp != nil {
			continue
		}
		if s := specificity(obj, &p.Spec, ""); s != selector.NoMatch {
			group = append(group, candidate{ref: PolicyRef{Kind: policyv1alpha1.ResourceKindClusterOverridePolicy, Name: p.Name}, spec: &p.Spec, s: s})
		}
	}
	out = appendGroup(out, group, cluster)
	group = group[:0]
	if ns := obj.GetNamespace(); ns != "" {
		for _, p := range ops {
			if p == nil || p.DeletionTimestamp != nil || p.Namespace != ns {
				continue
			}
			if s := specificity(obj, &p.Spec, ns); s != selector.NoMatch {
				group = append(group, candidate{ref: PolicyRef{Kind: policyv1alpha1.ResourceKindOverridePolicy, Namespace: p.Namespace, Name: p.Name}, spec: &p.Spec, s: s})
			}
		}
	}
	return appendGroup(out, group, cluster)
}

type candidate struct {
	ref  PolicyRef
	spec *policyv1alpha1.OverrideSpec
	s    selector.Specificity
}

// specificity is how a policy of namespace ns ("" for cluster policies) selects obj.
func specificity(obj *unstructured.Unstructured, spec *policyv1alpha1.OverrideSpec, ns string) selector.Specificity {
	if len(spec.ResourceSelectors) == 0 {
		return selector.MatchAll
	}
	_, s := selector.MatchesSelectors(obj, spec.ResourceSelectors, ns)
	return s
}

// appendGroup sorts one group of candidates (least specific first, then by name) and appends
// those with rules for cluster.
func appendGroup(out []Applicable, group []candidate, cluster *clusterv1alpha1.Cluster) []Applicable {
	slices.SortStableFunc(group, func(a, b candidate) int {
		if c := cmp.Compare(a.s, b.s); c != 0 {
			return c
		}
		return cmp.Compare(a.ref.Name, b.ref.Name)
	})
	for _, c := range group {
		if rules := rulesFor(c.spec, cluster); len(rules) > 0 {
			out = append(out, Applicable{Policy: c.ref, Specificity: c.s, Rules: rules})
		}
	}
	return out
}

// rulesFor returns the rules of spec whose targetCluster selects cluster.
func rulesFor(spec *policyv1alpha1.OverrideSpec, cluster *clusterv1alpha1.Cluster) []Rule {
	if len(spec.OverrideRules) == 0 {
		if !selector.ClusterMatches(cluster, spec.TargetCluster) { //nolint:staticcheck // the deprecated form still works
			return nil
		}
		return []Rule{{Index: DeprecatedRule, Overriders: &spec.Overriders}} //nolint:staticcheck // ditto
	}
	var rules []Rule
	for i := range spec.OverrideRules {
		r := &spec.OverrideRules[i]
		if selector.ClusterMatches(cluster, r.TargetCluster) {
			rules = append(rules, Rule{Index: i, Overriders: &r.Overriders})
		}
	}
	return rules
}
