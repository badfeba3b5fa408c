package claim

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
)

// Ref names the policy that claims a template: a PropagationPolicy (Namespace and Name) or a
// ClusterPropagationPolicy (Cluster true, Name). The zero Ref means "no policy".
type Ref struct {
	// Cluster is true for a ClusterPropagationPolicy.
	Cluster bool
	// Namespace of a PropagationPolicy; empty for a ClusterPropagationPolicy.
	Namespace string
	// Name of the policy.
	Name string
}

// IsZero reports whether r names no policy.
func (r Ref) IsZero() bool { return r.Name == "" }

// String is "PropagationPolicy ns/name", "ClusterPropagationPolicy name" or "none".
func (r Ref) String() string {
	switch {
	case r.IsZero():
		return "none"
	case r.Cluster:
		return policyv1alpha1.ResourceKindClusterPropagationPolicy + " " + r.Name
	default:
		return policyv1alpha1.ResourceKindPropagationPolicy + " " + r.Namespace + "/" + r.Name
	}
}

// PropagationPolicyRef is the Ref of pp.
func PropagationPolicyRef(pp *policyv1alpha1.PropagationPolicy) Ref {
	return Ref{Namespace: pp.Namespace, Name: pp.Name}
}

// ClusterPropagationPolicyRef is the Ref of cpp.
func ClusterPropagationPolicyRef(cpp *policyv1alpha1.ClusterPropagationPolicy) Ref {
	return Ref{Cluster: true, Name: cpp.Name}
}

// Of reads the claim recorded in obj's annotations. A PropagationPolicy claim without a namespace
// annotation is taken to be in obj's namespace. When both kinds are recorded (never written by
// Set), the PropagationPolicy wins, as it would in a fresh match.
func Of(obj metav1.Object) Ref {
	ann := obj.GetAnnotations()
	if name := ann[policyv1alpha1.PropagationPolicyNameAnnotation]; name != "" {
		ns := ann[policyv1alpha1.PropagationPolicyNamespaceAnnotation]
		if ns == "" {
			ns = obj.GetNamespace()
		}
		return Ref{Namespace: ns, Name: name}
	}
	if name := ann[policyv1alpha1.ClusterPropagationPolicyAnnotation]; name != "" {
		return Ref{Cluster: true, Name: name}
	}
	return Ref{}
}

// Set records r as obj's claim, removing the annotations of the other kind; the zero Ref removes
// every claim annotation (a release). It reports whether the annotations changed. Other
// annotations are left alone; an emptied annotation map is set to nil.
func Set(obj metav1.Object, r Ref) bool {
	old := obj.GetAnnotations()
	want := map[string]string{}
	switch {
	case r.IsZero():
	case r.Cluster:
		want[policyv1alpha1.ClusterPropagationPolicyAnnotation] = r.Name
	default:
		want[policyv1alpha1.PropagationPolicyNamespaceAnnotation] = r.Namespace
		want[policyv1alpha1.PropagationPolicyNameAnnotation] = r.Name
	}
	changed := false
	for _, k := range claimAnnotations {
		v, had := old[k]
		w, wanted := want[k]
		if had != wanted || v != w {
			changed = true
		}
	}
	if !changed {
		return false
	}
	next := make(map[string]string, len(old)+len(want))
	for k, v := range old {
		next[k] = v
	}
	for _, k := range claimAnnotations {
		delete(next, k)
	}
	for k, v := range want {
		next[k] = v
	}
	if len(next) == 0 {
		next = nil
	}
	obj.SetAnnotations(next)
	return true
}

// claimAnnotations are every annotation key Set manages.
var claimAnnotations = []string{
	policyv1alpha1.PropagationPolicyNamespaceAnnotation,
	policyv1alpha1.PropagationPolicyNameAnnotation,
	policyv1alpha1.ClusterPropagationPolicyAnnotation,
}
