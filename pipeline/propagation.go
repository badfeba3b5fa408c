package pipeline

import (
	"context"

	"github.com/fleetgate/fleetgate/propagate/names"

	"k8s.io/klog/v2"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	workv1alpha2 "github.com/fleetgate/fleetgate/apis/work/v1alpha2"
	"github.com/fleetgate/fleetgate/propagate/plan"
)

// Lister is the read-only view of the host's fleetgate objects the pipeline needs
// (propagate/cache.Cache implements it).
type Lister interface {
	PropagationPolicies(namespace string) []*policyv1alpha1.PropagationPolicy
	ClusterPropagationPolicies() []*policyv1alpha1.ClusterPropagationPolicy
	OverridePolicies(namespace string) []*policyv1alpha1.OverridePolicy
	ClusterOverridePolicies() []*policyv1alpha1.ClusterOverridePolicy
	Clusters() []*clusterv1alpha1.Cluster
	ResourceBinding(namespace, name string) (*workv1alpha2.ResourceBinding, bool)
	ClusterResourceBinding(name string) (*workv1alpha2.ClusterResourceBinding, bool)
}

// planInput gathers what plan.Compute needs for template from the cache.
func planInput(l Lister, template interface {
	GetNamespace() string
	GetName() string
	GetKind() string
}) plan.Input {
	ns := template.GetNamespace()
	in := plan.Input{
		ClusterPropagationPolicies: l.ClusterPropagationPolicies(),
		ClusterOverridePolicies:    l.ClusterOverridePolicies(),
		Clusters:                   l.Clusters(),
	}
	name := names.BindingName(template.GetKind(), template.GetName())
	if ns != "" {
		in.PropagationPolicies = l.PropagationPolicies(ns)
		in.OverridePolicies = l.OverridePolicies(ns)
		if rb, ok := l.ResourceBinding(ns, name); ok {
			in.Previous = rb.Spec.Clusters
		}
	} else if crb, ok := l.ClusterResourceBinding(name); ok {
		in.Previous = crb.Spec.Clusters
	}
	return in
}

// match decides which policy claims the resolved object.
type match struct {
	handlesWrites
	cache Lister
}

var _ MutationInterface = match{}

func (m match) Admit(ctx context.Context, a *Attributes) error {
	if a.Resolved == nil {
		return nil
	}
	a.PlanInput = planInput(m.cache, a.Resolved)
	a.PlanInput.Template = a.Resolved
	a.Plan = plan.Claim(a.PlanInput)
	klog.FromContext(ctx).V(2).Info("Admission claim", "object", klog.KObj(a.Resolved), "kind", a.Resolved.GetKind(),
		"policies", len(a.PlanInput.PropagationPolicies), "clusterPolicies", len(a.PlanInput.ClusterPropagationPolicies),
		"claim", a.Plan.Claim.Ref.String(), "reason", a.Plan.Claim.Reason)
	return nil
}

// schedule chooses target clusters and replicas for a claimed object. A placement that cannot be
// met does not fail the write: the template is stored and its binding says why nothing was placed.
type schedule struct{ handlesWrites }

var _ MutationInterface = schedule{}

func (schedule) Admit(_ context.Context, a *Attributes) error {
	if a.Plan != nil {
		a.Plan.Schedule(a.PlanInput)
	}
	return nil
}

// override builds each target cluster's object: ClusterOverridePolicies, then OverridePolicies, in
// Karmada's order. A failing override is recorded per cluster; member dry-run turns it into a
// rejection, and without member dry-run the reconciler reports it on the binding.
type override struct{ handlesWrites }

var _ MutationInterface = override{}

func (override) Admit(_ context.Context, a *Attributes) error {
	if a.Plan != nil {
		a.Plan.Override(a.PlanInput)
	}
	return nil
}
