package reconcile

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/klog/v2"

	"github.com/fleetgate/fleetgate/propagate/member"
)

// sweepPageSize is the page size of the listings of a sweep.
const sweepPageSize = 500

// sweepKind queues a sweep of one kind on every Ready cluster.
func (c *Controller) sweepKind(gk schema.GroupKind) {
	for _, d := range c.readyDispatchers() {
		d.queue.Add(clusterItem{Key: Key{Kind: gk}, Sweep: true})
	}
}

// sweep lists fleetgate's copies of the watched kinds (only gk when set) in d's cluster. A copy
// whose template is gone from the host is deleted at once: nothing else would ever remove it. A
// copy of a live template is remembered (the template decides whether it stays), and a copy that
// a binding records but that is missing is written again.
func (c *Controller) sweep(ctx context.Context, d *dispatcher, gk schema.GroupKind) error {
	dyn, err := c.opts.Members.Dynamic(ctx, d.name)
	if err != nil {
		return err
	}
	var errs []error
	for _, k := range c.kinds.all() {
		if !gk.Empty() && k.gk() != gk {
			continue
		}
		if err := c.sweepKindIn(ctx, d, dyn, k); err != nil {
			errs = append(errs, fmt.Errorf("sweep %s in cluster %s: %w", k.gvr, d.name, err))
		}
	}
	return errors.Join(errs...)
}

// orphan is a copy whose template the cache does not hold, as the sweep listed it.
type orphan struct {
	key  Key
	copy member.Observed
}

func (c *Controller) sweepKindIn(ctx context.Context, d *dispatcher, dyn dynamic.Interface, k *kind) error {
	listedAt := c.tracker.now() // what the cluster workers record from now on, the list may not show
	present, orphans, err := c.listCopies(ctx, d, dyn, k)
	if err != nil {
		return err
	}
	for _, key := range c.tracker.observe(d.name, k.gk(), present, listedAt) {
		c.queue.Add(key)
	}
	c.markMissing(d.name, k, present, listedAt)
	logger := klog.FromContext(ctx)
	for _, o := range orphans {
		// The informer may lag behind a template just created: only the host can say it is gone.
		live, err := c.resource(k, o.key.Namespace).Get(ctx, o.key.Name, metav1.GetOptions{})
		switch {
		case err == nil && string(live.GetUID()) == o.copy.TemplateUID:
			c.queue.Add(o.key)
			continue
		case err == nil:
			// A copy of an earlier incarnation of the template: the live one's reconcile
			// overwrites (or removes) it. Deleting it here could delete the live one's copy,
			// written since the list.
			logger.V(2).Info("Copy of an earlier template of that name; leaving it to the template", "cluster", d.name,
				"template", o.key, "copyTemplateUID", o.copy.TemplateUID, "templateUID", live.GetUID())
			c.queue.Add(o.key)
			continue
		case !apierrors.IsNotFound(err):
			return err
		}
		// Only the copy as listed goes: one re-created or rewritten since (for a template created
		// again with that name) stays.
		deleted, err := member.DeleteObserved(ctx, dyn, k.gvr, o.copy)
		if err != nil {
			return fmt.Errorf("delete orphaned copy of %s: %w", o.key, err)
		}
		if deleted {
			logger.Info("Deleted copy whose template is gone", "cluster", d.name, "template", o.key, "templateUID", o.copy.TemplateUID)
		}
	}
	return nil
}

// listCopies lists fleetgate's copies of kind k in d's cluster: those of templates the cache holds
// (present) and the others (orphans, if the host confirms). Listing Namespaces, it also records
// every namespace that exists there.
func (c *Controller) listCopies(ctx context.Context, d *dispatcher, dyn dynamic.Interface, k *kind) (map[Key]bool, []orphan, error) {
	present := map[Key]bool{}
	var orphans []orphan
	// Every object of the kind, not only fleetgate's copies: the names of the others say where a
	// cold copy may be written without reading first (knownAbsent); every namespace: those that
	// exist need not be created.
	opts := metav1.ListOptions{Limit: sweepPageSize}
	occ := occupancy{names: map[string]bool{}, listedAt: c.opts.Clock.Now()}
	for {
		list, err := dyn.Resource(k.gvr).List(ctx, opts)
		if apierrors.IsNotFound(err) {
			return nil, nil, nil // the member does not serve the kind: no copies
		}
		if err != nil {
			return nil, nil, err
		}
		for i := range list.Items {
			it := &list.Items[i]
			occ.names[it.GetNamespace()+"/"+it.GetName()] = true
			if k.isNamespace() && it.GetDeletionTimestamp() == nil {
				d.setNamespace(it.GetName(), true)
			}
			if !member.IsManaged(it) || it.GetDeletionTimestamp() != nil {
				continue // not ours, or on its way out already
			}
			ref := it.GetAnnotations()[member.AnnotationTemplate]
			gvk, ns, name, ok := parseTemplateRef(ref)
			if !ok || gvk.GroupKind() != k.gk() {
				continue // not a copy of a template of this kind (or of a kind nobody watches)
			}
			key := Key{Kind: k.gk(), Namespace: ns, Name: name}
			if k.has(key) {
				present[key] = true
				continue
			}
			orphans = append(orphans, orphan{key: key, copy: member.Observe(it)})
		}
		if opts.Continue = list.GetContinue(); opts.Continue == "" {
			if !k.isNamespace() {
				d.setOccupied(k.gk(), occ)
			}
			return present, orphans, nil
		}
	}
}

// markMissing marks stale the copies in cluster that bindings of kind k record but the sweep did
// not find, and queues their templates.
func (c *Controller) markMissing(cluster string, k *kind, present map[Key]bool, listedAt uint64) {
	check := func(apiVersion, kind, namespace, name string, annotations map[string]string) {
		if schema.FromAPIVersionAndKind(apiVersion, kind).GroupKind() != k.gk() {
			return
		}
		key := Key{Kind: k.gk(), Namespace: namespace, Name: name}
		if _, recorded := readRecord(annotations)[cluster]; recorded && !present[key] && !c.tracker.recordedSince(key, cluster, listedAt) {
			c.tracker.markStale(key, cluster)
			c.queue.Add(key)
		}
	}
	for _, b := range c.cache.ResourceBindings() {
		r := b.Spec.Resource
		check(r.APIVersion, r.Kind, r.Namespace, r.Name, b.Annotations)
	}
	for _, b := range c.cache.ClusterResourceBindings() {
		r := b.Spec.Resource
		check(r.APIVersion, r.Kind, r.Namespace, r.Name, b.Annotations)
	}
}
