package pipeline

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/endpoints/request"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	"github.com/fleetgate/fleetgate/propagate/selector"
)

// KindResolver maps a resource to its kind (meta.RESTMapper implements it).
type KindResolver interface {
	KindFor(resource schema.GroupVersionResource) (schema.GroupVersionKind, error)
}

// mayClaim says whether a write (one writable accepts) can concern propagation at all: it is a policy,
// or some PropagationPolicy of its namespace or some ClusterPropagationPolicy selects its group
// and kind (in any version). A write no policy could claim gains nothing from the pipeline (it would only be resolved
// and committed) and goes straight to the host, at the host's own latency. When the kind cannot be
// resolved the pipeline decides.
func mayClaim(l Lister, kinds KindResolver, info *request.RequestInfo) bool {
	if info.APIGroup == policyv1alpha1.GroupName {
		return true
	}
	gvk, err := kinds.KindFor(schema.GroupVersionResource{Group: info.APIGroup, Version: info.APIVersion, Resource: info.Resource})
	if err != nil {
		return true
	}
	apiVersion := gvk.GroupVersion().String()
	selects := func(sels []policyv1alpha1.ResourceSelector) bool {
		for _, s := range sels {
			if selector.SameGroupKind(s.APIVersion, s.Kind, apiVersion, gvk.Kind) {
				return true
			}
		}
		return false
	}
	for _, p := range l.ClusterPropagationPolicies() {
		if selects(p.Spec.ResourceSelectors) {
			return true
		}
	}
	for _, p := range l.PropagationPolicies(info.Namespace) {
		if selects(p.Spec.ResourceSelectors) {
			return true
		}
	}
	return false
}
