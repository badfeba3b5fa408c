package claim

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	"github.com/fleetgate/fleetgate/propagate/selector"
)

// Reason says how a Decision came about.
type Reason string

const (
	// Kept: the recorded claim is still valid and no policy preempts it.
	Kept Reason = "Kept"
	// Claimed: the object had no claim and a policy now claims it.
	Claimed Reason = "Claimed"
	// Preempted: a policy with preemption Always took the object from the recorded one.
	Preempted Reason = "Preempted"
	// Reclaimed: the recorded policy is gone, being deleted or no longer matches, and another
	// policy claims the object.
	Reclaimed Reason = "Reclaimed"
	// Released: the recorded policy is gone, being deleted or no longer matches, and no other
	// policy matches; the member copies are to be removed (unless preserveResourcesOnDeletion).
	Released Reason = "Released"
	// Unclaimed: the object has no claim and no policy matches it.
	Unclaimed Reason = "Unclaimed"
)

// Decision is the outcome of Resolve.
type Decision struct {
	// Ref is the winning policy; zero when none claims the object.
	Ref Ref
	// PropagationPolicy is the winner when it is a PropagationPolicy.
	PropagationPolicy *policyv1alpha1.PropagationPolicy
	// ClusterPropagationPolicy is the winner when it is a ClusterPropagationPolicy.
	ClusterPropagationPolicy *policyv1alpha1.ClusterPropagationPolicy
	// Previous is the claim recorded on the object before the decision.
	Previous Ref
	// Changed is true when Ref differs from Previous, i.e. the annotations must be rewritten
	// (with Set).
	Changed bool
	// Reason says how the decision came about; Message explains it for events and logs.
	Reason  Reason
	Message string
}

// Spec is the winning policy's spec, nil when none claims the object.
func (d Decision) Spec() *policyv1alpha1.PropagationSpec {
	switch {
	case d.PropagationPolicy != nil:
		return &d.PropagationPolicy.Spec
	case d.ClusterPropagationPolicy != nil:
		return &d.ClusterPropagationPolicy.Spec
	default:
		return nil
	}
}

// candidate is one policy that matches the object.
type candidate struct {
	ref         Ref
	pp          *policyv1alpha1.PropagationPolicy
	cpp         *policyv1alpha1.ClusterPropagationPolicy
	spec        *policyv1alpha1.PropagationSpec
	specificity selector.Specificity
}

func (c *candidate) priority() int32 {
	if c.spec.Priority == nil {
		return 0
	}
	return *c.spec.Priority
}

// beats is the precedence of a fresh match: a PropagationPolicy over any ClusterPropagationPolicy;
// then higher priority; then the more specific selector; then the alphabetically smaller name.
func (c *candidate) beats(o *candidate) bool {
	if c.ref.Cluster != o.ref.Cluster {
		return !c.ref.Cluster
	}
	if c.priority() != o.priority() {
		return c.priority() > o.priority()
	}
	if c.specificity != o.specificity {
		return c.specificity > o.specificity
	}
	return c.ref.Name < o.ref.Name
}

// preempts says whether c may take an object claimed by holder: only with preemption Always, and
// then a PropagationPolicy takes from any ClusterPropagationPolicy, and a policy takes from one of
// its own kind with a strictly lower priority. A ClusterPropagationPolicy never takes from a
// PropagationPolicy.
func (c *candidate) preempts(holder *candidate) bool {
	if c.spec.Preemption != policyv1alpha1.PreemptAlways {
		return false
	}
	if c.ref.Cluster != holder.ref.Cluster {
		return !c.ref.Cluster
	}
	return c.priority() > holder.priority()
}

func (c *candidate) describe() string {
	return fmt.Sprintf("%s (priority %d, %s match)", c.ref, c.priority(), c.specificity)
}

// Resolve decides which policy claims obj. pps are the PropagationPolicies of obj's namespace
// (others are ignored) and cpps every ClusterPropagationPolicy; policies being deleted never
// claim. The claim recorded in obj's annotations (see Of) is kept while its policy exists, is
// not being deleted and still matches, unless a matching policy with preemption Always
// outranks it. Otherwise the best matching policy wins (see KARMADA-COMPAT.md "Which propagation
// policy claims an object"). Resolve does not modify obj; callers record the result with Set.
//
// The caller must pass complete lists (synced informers): a recorded policy missing from them
// is treated as deleted and the object is released.
func Resolve(obj *unstructured.Unstructured, pps []*policyv1alpha1.PropagationPolicy, cpps []*policyv1alpha1.ClusterPropagationPolicy) Decision {
	prev := Of(obj)
	cands := candidates(obj, pps, cpps)

	var best, holder *candidate
	for _, c := range cands {
		if best == nil || c.beats(best) {
			best = c
		}
		if c.ref == prev {
			holder = c
		}
	}

	d := Decision{Previous: prev}
	switch {
	case holder != nil:
		var challenger *candidate
		for _, c := range cands {
			if c != holder && c.preempts(holder) && (challenger == nil || c.beats(challenger)) {
				challenger = c
			}
		}
		if challenger == nil {
			d.set(holder, Kept, fmt.Sprintf("kept by %s", holder.describe()))
			return d
		}
		d.set(challenger, Preempted, fmt.Sprintf("%s with preemption Always took over from %s", challenger.describe(), holder.describe()))
	case best == nil && prev.IsZero():
		d.Reason, d.Message = Unclaimed, "no propagation policy matches"
	case best == nil:
		d.Reason, d.Message = Released, fmt.Sprintf("released by %s (%s); no other propagation policy matches", prev, whyInvalid(obj, prev, pps, cpps))
	case prev.IsZero():
		d.set(best, Claimed, fmt.Sprintf("claimed by %s", best.describe()))
	default:
		d.set(best, Reclaimed, fmt.Sprintf("claimed by %s after %s %s", best.describe(), prev, whyInvalid(obj, prev, pps, cpps)))
	}
	d.Changed = d.Ref != prev
	return d
}

func (d *Decision) set(c *candidate, reason Reason, msg string) {
	d.Ref, d.PropagationPolicy, d.ClusterPropagationPolicy = c.ref, c.pp, c.cpp
	d.Reason, d.Message = reason, msg
}

// candidates are the policies that match obj and are not being deleted.
func candidates(obj *unstructured.Unstructured, pps []*policyv1alpha1.PropagationPolicy, cpps []*policyv1alpha1.ClusterPropagationPolicy) []*candidate {
	var out []*candidate
	if obj.GetNamespace() != "" {
		for _, pp := range pps {
			if pp == nil || pp.DeletionTimestamp != nil || pp.Namespace != obj.GetNamespace() {
				continue
			}
			if ok, s := selector.MatchesSelectors(obj, pp.Spec.ResourceSelectors, pp.Namespace); ok {
				out = append(out, &candidate{ref: PropagationPolicyRef(pp), pp: pp, spec: &pp.Spec, specificity: s})
			}
		}
	}
	for _, cpp := range cpps {
		if cpp == nil || cpp.DeletionTimestamp != nil {
			continue
		}
		if ok, s := selector.MatchesSelectors(obj, cpp.Spec.ResourceSelectors, ""); ok {
			out = append(out, &candidate{ref: ClusterPropagationPolicyRef(cpp), cpp: cpp, spec: &cpp.Spec, specificity: s})
		}
	}
	return out
}

// whyInvalid says why the recorded claim prev no longer holds.
func whyInvalid(obj *unstructured.Unstructured, prev Ref, pps []*policyv1alpha1.PropagationPolicy, cpps []*policyv1alpha1.ClusterPropagationPolicy) string {
	if prev.Cluster {
		for _, cpp := range cpps {
			if cpp != nil && cpp.Name == prev.Name {
				return deletingOrUnmatched(cpp.DeletionTimestamp != nil)
			}
		}
		return "was deleted"
	}
	if prev.Namespace != obj.GetNamespace() {
		return "is in another namespace"
	}
	for _, pp := range pps {
		if pp != nil && pp.Namespace == prev.Namespace && pp.Name == prev.Name {
			return deletingOrUnmatched(pp.DeletionTimestamp != nil)
		}
	}
	return "was deleted"
}

func deletingOrUnmatched(deleting bool) string {
	if deleting {
		return "is being deleted"
	}
	return "no longer matches"
}
