package plan

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	"github.com/fleetgate/fleetgate/apis/policy/v1alpha1/validation"
	workv1alpha2 "github.com/fleetgate/fleetgate/apis/work/v1alpha2"
	"github.com/fleetgate/fleetgate/propagate/claim"
	"github.com/fleetgate/fleetgate/propagate/member"
	"github.com/fleetgate/fleetgate/propagate/override"
	"github.com/fleetgate/fleetgate/propagate/placement"
)

// Input is everything a plan depends on.
type Input struct {
	// Template is the object as stored in the host (or as it would be stored).
	Template *unstructured.Unstructured
	// Policies of the template's namespace and the cluster-wide ones (complete lists).
	PropagationPolicies        []*policyv1alpha1.PropagationPolicy
	ClusterPropagationPolicies []*policyv1alpha1.ClusterPropagationPolicy
	OverridePolicies           []*policyv1alpha1.OverridePolicy
	ClusterOverridePolicies    []*policyv1alpha1.ClusterOverridePolicy
	Clusters                   []*clusterv1alpha1.Cluster
	// Previous is the last scheduling result (the binding's spec.clusters), for stickiness.
	Previous []workv1alpha2.TargetCluster
}

// Plan is the decision for one template.
type Plan struct {
	// Claim says which policy claims the template (Claim.Ref zero: none; nothing is propagated).
	Claim claim.Decision
	// Spec is the claiming policy's spec, defaulted; nil when unclaimed.
	Spec *policyv1alpha1.PropagationSpec
	// Targets are the clusters and their replicas, sorted by name.
	Targets []workv1alpha2.TargetCluster
	// Excluded says why each other cluster is not a target.
	Excluded []placement.Exclusion
	// SchedulingErr is set when the placement cannot be satisfied (then Targets is empty).
	SchedulingErr error
	// Clusters holds the per-cluster object of each target.
	Clusters map[string]*ClusterPlan
}

// ClusterPlan is what one target cluster gets.
type ClusterPlan struct {
	Cluster *clusterv1alpha1.Cluster
	// Object is the member copy after replicas and overrides; nil when Err is set.
	Object *unstructured.Unstructured
	// Applied lists the override rules that were applied, for the binding's annotations.
	Applied []override.AppliedPolicy
	// Err is an override failure for this cluster (it names the policy and the path).
	Err error
}

// Claimed reports whether a policy claims the template.
func (p *Plan) Claimed() bool { return p.Spec != nil }

// Compute decides the plan: Claim, then Schedule, then Override. It never mutates its inputs.
func Compute(in Input) *Plan {
	p := Claim(in)
	p.Schedule(in)
	p.Override(in)
	return p
}

// Claim starts a plan with the policy that claims the template (if any), its spec defaulted.
func Claim(in Input) *Plan {
	p := &Plan{Clusters: map[string]*ClusterPlan{}}
	if !claim.PropagatableObject(in.Template) {
		return p
	}
	p.Claim = claim.Resolve(in.Template, in.PropagationPolicies, in.ClusterPropagationPolicies)
	if spec := p.Claim.Spec(); spec != nil {
		p.Spec = spec.DeepCopy()
		validation.SetPropagationDefaults(p.Spec)
	}
	return p
}

// Schedule chooses the target clusters and their replicas of a claimed template.
func (p *Plan) Schedule(in Input) {
	if p.Spec == nil {
		return
	}
	replicas, requests, err := placement.ReplicaRequirements(in.Template)
	if err != nil {
		p.SchedulingErr = fmt.Errorf("read replicas of %s: %w", in.Template.GetName(), err)
		return
	}
	res, err := placement.Decide(placement.Input{
		Placement: &p.Spec.Placement, Clusters: in.Clusters, Replicas: replicas, Requests: requests, Previous: in.Previous,
	})
	p.Excluded = res.Excluded
	if err != nil {
		p.SchedulingErr = err
		return
	}
	p.Targets = res.Targets
}

// Override builds each target's object: the member copy, its replica share, then the overrides.
func (p *Plan) Override(in Input) {
	byName := make(map[string]*clusterv1alpha1.Cluster, len(in.Clusters))
	for _, c := range in.Clusters {
		if c != nil {
			byName[c.Name] = c
		}
	}
	for _, t := range p.Targets {
		p.Clusters[t.Name] = forCluster(in, byName[t.Name], t.Replicas)
	}
}

// forCluster builds one cluster's object: the member copy, its replica share, then the overrides.
func forCluster(in Input, c *clusterv1alpha1.Cluster, replicas int32) *ClusterPlan {
	cp := &ClusterPlan{Cluster: c}
	obj := member.Copy(in.Template)
	if err := placement.SetReplicas(obj, replicas); err != nil {
		cp.Err = fmt.Errorf("cluster %s: set replicas: %w", c.Name, err)
		return cp
	}
	out, applied, err := override.ApplyForCluster(obj, c, in.ClusterOverridePolicies, in.OverridePolicies)
	if err != nil {
		cp.Err = fmt.Errorf("cluster %s: %w", c.Name, err)
		return cp
	}
	// Overrides may not take the copy's identity or fleetgate's marks away.
	reassert(out, obj)
	cp.Object, cp.Applied = out, applied
	return cp
}

// reassert restores what overrides must not change: apiVersion, kind, name, namespace, and the
// managed label and template annotations.
func reassert(out, copy *unstructured.Unstructured) {
	out.SetAPIVersion(copy.GetAPIVersion())
	out.SetKind(copy.GetKind())
	out.SetName(copy.GetName())
	out.SetNamespace(copy.GetNamespace())
	labels := out.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[member.LabelManaged] = "true"
	out.SetLabels(labels)
	ann := out.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	for _, k := range []string{member.AnnotationTemplate, member.AnnotationTemplateUID} {
		ann[k] = copy.GetAnnotations()[k]
	}
	out.SetAnnotations(ann)
}
