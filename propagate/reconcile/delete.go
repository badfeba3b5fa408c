package reconcile

import (
	"context"
	"fmt"
	"slices"

	"github.com/fleetgate/fleetgate/propagate/names"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	workv1alpha2 "github.com/fleetgate/fleetgate/apis/work/v1alpha2"
	"github.com/fleetgate/fleetgate/propagate/claim"
	"github.com/fleetgate/fleetgate/propagate/member"
	"github.com/fleetgate/fleetgate/propagate/plan"
)

// release handles a live template that no policy claims and no workload requires: its copies go
// (or, with preserveResourcesOnDeletion, stay without fleetgate's marks), then its binding, then
// its claim annotations and finalizer. Most objects of a watched kind were never propagated and
// cost nothing here.
func (c *Controller) release(ctx context.Context, key Key, k *kind, obj *unstructured.Unstructured, cur *workv1alpha2.ResourceBinding, p *plan.Plan) error {
	c.waiters.release(key, "") // nothing is dispatched for a template no policy claims
	hasFinalizer := slices.Contains(obj.GetFinalizers(), names.Finalizer)
	claimed := !claim.Of(obj).IsZero() && claim.PropagatableObject(obj)
	if cur == nil && !hasFinalizer && !claimed && len(c.tracker.snapshot(key)) == 0 {
		return nil
	}
	preserve := cur != nil && ptr.Deref(cur.Spec.PreserveResourcesOnDeletion, false)
	if !c.removeAll(key, k, obj, member.TemplateRef(obj), cur, preserve, false) {
		return nil
	}
	if cur != nil {
		if err := c.deleteBinding(ctx, k, cur); err != nil {
			return err
		}
	}
	if hasFinalizer || claimed {
		if _, err := c.recordClaim(ctx, k, obj, claim.Ref{}, false); err != nil {
			return err
		}
	}
	if p.Claim.Reason == claim.Released && claimed {
		c.recorder.Event(obj, corev1.EventTypeNormal, ReasonReleased, p.Claim.Message)
	}
	c.tracker.forget(key)
	c.statusWritten.drop(key)
	return nil
}

// syncDeleting handles a template being deleted: its copies go everywhere (kept, unmarked, with
// preserveResourcesOnDeletion), then its binding, then fleetgate's finalizer. A cluster that cannot
// be reached keeps the template Terminating until it can, or until it is unjoined.
func (c *Controller) syncDeleting(ctx context.Context, key Key, k *kind, obj *unstructured.Unstructured) error {
	cur := c.binding(k, key)
	hasFinalizer := slices.Contains(obj.GetFinalizers(), names.Finalizer)
	if cur == nil && !hasFinalizer && len(c.tracker.snapshot(key)) == 0 {
		return nil
	}
	preserve := cur != nil && ptr.Deref(cur.Spec.PreserveResourcesOnDeletion, false)
	if !c.removeAll(key, k, obj, member.TemplateRef(obj), cur, preserve, true) {
		return nil
	}
	if cur != nil {
		if err := c.deleteBinding(ctx, k, cur); err != nil {
			return err
		}
	}
	if hasFinalizer {
		if _, err := c.recordClaim(ctx, k, obj, claim.Of(obj), false); err != nil {
			return err
		}
	}
	c.tracker.forget(key)
	c.statusWritten.drop(key)
	c.forgetDependencies(key)
	return nil
}

// syncGone handles a template that no longer exists (deleted without fleetgate's finalizer, or
// while nobody watched): its copies go from every cluster that may hold one, then its binding.
func (c *Controller) syncGone(ctx context.Context, key Key, k *kind) error {
	cur := c.binding(k, key)
	if cur == nil && len(c.tracker.snapshot(key)) == 0 {
		c.forgetDependencies(key)
		return nil // never propagated by this process, and no binding: a sweep finds what is left
	}
	preserve := cur != nil && ptr.Deref(cur.Spec.PreserveResourcesOnDeletion, false)
	ref := k.gvk.GroupVersion().String() + "/" + k.gvk.Kind + "/" + key.Namespace + "/" + key.Name
	if !c.removeAll(key, k, nil, ref, cur, preserve, true) {
		return nil
	}
	if cur != nil {
		if err := c.deleteBinding(ctx, k, cur); err != nil {
			return err
		}
	}
	c.tracker.forget(key)
	c.statusWritten.drop(key)
	c.forgetDependencies(key)
	return nil
}

// removeAll asks every cluster that may hold a copy (with everywhere, also every Ready cluster) to
// remove it, and reports whether all of them are done. Clusters that no longer exist are done.
func (c *Controller) removeAll(key Key, k *kind, obj *unstructured.Unstructured, ref string, cur *workv1alpha2.ResourceBinding, preserve, everywhere bool) bool {
	slots := c.tracker.snapshot(key)
	set := holders(cur, slots)
	if everywhere {
		for _, cl := range c.cache.Clusters() {
			if clusterv1alpha1.IsReady(cl) && !slices.Contains(set, cl.Name) {
				set = append(set, cl.Name)
			}
		}
	}
	done := true
	for _, h := range set {
		if _, exists := c.cache.Cluster(h); !exists {
			continue
		}
		d, _ := c.removeCopy(key, h, obj, k, ref, preserve, slots[h])
		done = done && d
	}
	return done
}

// deleteBinding deletes a template's binding; already gone is success.
func (c *Controller) deleteBinding(ctx context.Context, k *kind, b *workv1alpha2.ResourceBinding) error {
	if err := c.bindings.delete(ctx, b, k.namespaced); err != nil {
		return fmt.Errorf("delete binding %s/%s: %w", b.Namespace, b.Name, err)
	}
	return nil
}
