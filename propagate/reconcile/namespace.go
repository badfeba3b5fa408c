package reconcile

import (
	"context"

	corev1 "k8s.io/api/core/v1"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	"github.com/fleetgate/fleetgate/propagate/claim"
)

// namespacesGVR is the resource of member Namespaces.
var namespacesGVR = corev1.SchemeGroupVersion.WithResource("namespaces")

// syncNamespace propagates a host Namespace: created (as a managed copy, never taken over) on every
// Ready member unless it is reserved or labelled namespace.karmada.io/skip-auto-propagation=true;
// when it is deleted in the host, fleetgate's copies are deleted. Namespaces have no binding:
// what was created is remembered in memory, and after a restart the sweep tells which copies
// exist. Policies that select Namespaces do not change this.
func (c *Controller) syncNamespace(ctx context.Context, key Key, ns *unstructured.Unstructured) error {
	if claim.IsReservedNamespace(key.Name) {
		return nil
	}
	ref := "v1/Namespace//" + key.Name
	slots := c.tracker.snapshot(key)
	if ns == nil || ns.GetDeletionTimestamp() != nil {
		if c.removeAll(key, c.kinds.get(namespacesGK), nil, ref, nil, false, true) {
			c.tracker.forget(key)
		}
		return nil
	}
	if ns.GetLabels()[policyv1alpha1.NamespaceSkipAutoPropagationLabel] == "true" {
		return nil
	}
	for _, cl := range c.cache.Clusters() {
		if !clusterv1alpha1.IsReady(cl) {
			continue
		}
		s := slots[cl.Name]
		if s.holds || s.done.ok() && s.done.action == actNamespace {
			continue
		}
		if d := c.dispatcher(cl.Name); d != nil && d.namespaceKnown(key.Name) {
			continue // it exists there (found by a sweep or created for a template)
		}
		c.dispatch(key, cl.Name, &work{action: actNamespace, gvr: namespacesGVR, name: key.Name, ref: ref})
	}
	return nil
}

// NamespacePropagated says whether the host namespace name goes to every Ready member by itself
// (syncNamespace): it exists in the host, is not reserved, being deleted or labelled
// namespace.karmada.io/skip-auto-propagation=true. False too when the namespaces' watch does not
// know it (yet). The write pipeline's member dry-run creates a missing namespace in a member
// only when this is true, since only then is its copy no trace of the write being checked.
func (c *Controller) NamespacePropagated(name string) bool {
	if claim.IsReservedNamespace(name) {
		return false
	}
	k := c.kinds.get(namespacesGK)
	if k == nil {
		return false
	}
	ns, ok := k.get(Key{Kind: namespacesGK, Name: name})
	return ok && ns.GetDeletionTimestamp() == nil && ns.GetLabels()[policyv1alpha1.NamespaceSkipAutoPropagationLabel] != "true"
}
