package reconcile

import (
	"context"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic/dynamicinformer"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	corev1 "k8s.io/api/core/v1"

	"github.com/fleetgate/fleetgate/propagate/claim"
)

// kind is one watched template kind.
type kind struct {
	gvr        schema.GroupVersionResource
	gvk        schema.GroupVersionKind
	namespaced bool
	informer   toolscache.SharedIndexInformer
}

// get returns the template of key from the informer (never to be mutated).
func (k *kind) get(key Key) (*unstructured.Unstructured, bool) {
	s := key.Name
	if key.Namespace != "" {
		s = key.Namespace + "/" + key.Name
	}
	o, ok, err := k.informer.GetStore().GetByKey(s)
	if err != nil || !ok {
		return nil, false
	}
	u, ok := o.(*unstructured.Unstructured)
	return u, ok
}

func (k *kind) isNamespace() bool { return k.gvr == namespacesGVR }

// keys returns the keys of the templates k's informer holds, in namespace ns ("" = all).
func (k *kind) keys(ns string) []Key {
	var objs []any
	if ns == "" {
		objs = k.informer.GetStore().List()
	} else {
		objs, _ = k.informer.GetIndexer().ByIndex(toolscache.NamespaceIndex, ns)
	}
	out := make([]Key, 0, len(objs))
	for _, o := range objs {
		if m, ok := o.(metav1.Object); ok {
			out = append(out, KeyFor(k.gvr, m))
		}
	}
	return out
}

// claimedBy returns the keys of the templates whose recorded claim is r.
func (k *kind) claimedBy(r claim.Ref) []Key {
	objs, _ := k.informer.GetIndexer().ByIndex(claimIndex, claimIndexValue(r))
	out := make([]Key, 0, len(objs))
	for _, o := range objs {
		if m, ok := o.(metav1.Object); ok {
			out = append(out, KeyFor(k.gvr, m))
		}
	}
	return out
}

// claimed returns the keys of every template with a recorded claim.
func (k *kind) claimed() []Key {
	var out []Key
	for _, v := range k.informer.GetIndexer().ListIndexFuncValues(claimIndex) {
		objs, _ := k.informer.GetIndexer().ByIndex(claimIndex, v)
		for _, o := range objs {
			if m, ok := o.(metav1.Object); ok {
				out = append(out, KeyFor(k.gvr, m))
			}
		}
	}
	return out
}

// claimIndex indexes templates by their recorded claim (claim.Of), so that a policy's change
// finds the templates it claims.
const claimIndex = "fleetgate.io/claim"

func claimIndexValue(r claim.Ref) string {
	if r.Cluster {
		return "cpp/" + r.Name
	}
	return "pp/" + r.Namespace + "/" + r.Name
}

func claimIndexFunc(obj any) ([]string, error) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, nil
	}
	if r := claim.Of(m); !r.IsZero() {
		return []string{claimIndexValue(r)}, nil
	}
	return nil, nil
}

// kindRequest asks to watch a kind, named by apiVersion and kind (policies, bindings) or by
// resource (Enqueue).
type kindRequest struct {
	GVK schema.GroupVersionKind
	GVR schema.GroupVersionResource
}

// kindRetry is how often a kind that the host does not serve is looked up again.
const kindRetry = 30 * time.Second

// kinds is the registry of watched kinds. Informers start on demand and are never stopped: a kind
// that no policy names any more costs memory only.
type kinds struct {
	mapper  meta.ResettableRESTMapper
	factory dynamicinformer.DynamicSharedInformerFactory

	mu       sync.RWMutex
	byGVR    map[schema.GroupVersionResource]*kind
	byGVK    map[schema.GroupVersionKind]*kind
	unserved map[kindRequest]bool
}

func (r *kinds) byResource(gvr schema.GroupVersionResource) *kind {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.byGVR[gvr]
}

func (r *kinds) byKind(gvk schema.GroupVersionKind) *kind {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.byGVK[gvk]
}

func (r *kinds) isUnserved(req kindRequest) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.unserved[req]
}

func (r *kinds) all() []*kind {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*kind, 0, len(r.byGVR))
	for _, k := range r.byGVR {
		out = append(out, k)
	}
	return out
}

// synced reports whether every watched kind's informer has its initial list.
func (r *kinds) synced() bool {
	for _, k := range r.all() {
		if !k.informer.HasSynced() {
			return false
		}
	}
	return true
}

// resolve maps a request to a resource, with its kind and scope. An unknown kind is looked up
// again after the discovery cache was reset (a CRD may just have been installed).
func (r *kinds) resolve(req kindRequest) (schema.GroupVersionResource, schema.GroupVersionKind, bool, error) {
	var (
		m   *meta.RESTMapping
		err error
	)
	for attempt := 0; attempt < 2; attempt++ {
		if attempt > 0 {
			r.mapper.Reset()
		}
		gvk := req.GVK
		if req.GVR != (schema.GroupVersionResource{}) {
			if gvk, err = r.mapper.KindFor(req.GVR); err != nil {
				continue
			}
		}
		if m, err = r.mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err == nil {
			break
		}
	}
	if err != nil {
		return schema.GroupVersionResource{}, schema.GroupVersionKind{}, false, err
	}
	return m.Resource, m.GroupVersionKind, m.Scope.Name() == meta.RESTScopeNameNamespace, nil
}

// processNextKind is the kinds queue's worker step.
func (c *Controller) processNextKind(ctx context.Context) bool {
	req, shutdown := c.kindQueue.Get()
	if shutdown {
		return false
	}
	defer c.kindQueue.Done(req)
	if err := c.watchKind(ctx, req, false); err != nil {
		c.kindQueue.AddAfter(req, kindRetry)
		return true
	}
	c.kindQueue.Forget(req)
	return true
}

// watchKind starts the informer of a requested kind unless it runs already. wait blocks until
// its cache is filled; otherwise a kind added while running is swept on every Ready cluster once
// its cache is filled (copies of it may have been left behind while nobody watched it).
func (c *Controller) watchKind(ctx context.Context, req kindRequest, wait bool) error {
	logger := klog.FromContext(ctx)
	if req.GVK != (schema.GroupVersionKind{}) && c.kinds.byKind(req.GVK) != nil ||
		req.GVR != (schema.GroupVersionResource{}) && c.kinds.byResource(req.GVR) != nil {
		return nil
	}
	gvr, gvk, namespaced, err := c.kinds.resolve(req)
	if err != nil {
		c.reportUnserved(ctx, req, err)
		return err
	}
	if !claim.Propagatable(gvk, "") {
		return nil // fleetgate's and Karmada's own kinds, events, leases, …: never templates
	}
	c.kinds.mu.Lock()
	delete(c.kinds.unserved, req)
	if c.kinds.byGVR[gvr] != nil {
		c.kinds.byGVK[gvk] = c.kinds.byGVR[gvr]
		c.kinds.mu.Unlock()
		return nil
	}
	inf := c.kinds.factory.ForResource(gvr).Informer()
	_ = inf.SetTransform(stripManagedFields)
	if err := inf.AddIndexers(toolscache.Indexers{claimIndex: claimIndexFunc}); err != nil {
		c.kinds.mu.Unlock()
		return fmt.Errorf("index %s: %w", gvr, err)
	}
	k := &kind{gvr: gvr, gvk: gvk, namespaced: namespaced, informer: inf}
	c.kinds.byGVR[gvr], c.kinds.byGVK[gvk] = k, k
	c.kinds.mu.Unlock()
	_, _ = inf.AddEventHandler(c.templateHandler(k))
	c.kinds.factory.Start(ctx.Done())
	logger.Info("Watching templates", "resource", gvr.String(), "kind", gvk.Kind)
	if wait {
		toolscache.WaitForCacheSync(ctx.Done(), inf.HasSynced)
		return nil
	}
	go func() {
		if toolscache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
			c.sweepKind(gvr)
		}
	}()
	return nil
}

// reportUnserved logs a kind the host does not serve and warns on every policy that names it,
// once until it is served.
func (c *Controller) reportUnserved(ctx context.Context, req kindRequest, err error) {
	c.kinds.mu.Lock()
	reported := c.kinds.unserved[req]
	c.kinds.unserved[req] = true
	c.kinds.mu.Unlock()
	if reported {
		return
	}
	klog.FromContext(ctx).Error(err, "Kind not served by the host; objects of it are not propagated", "kind", req.GVK.String(), "resource", req.GVR.String())
	if req.GVK == (schema.GroupVersionKind{}) {
		return
	}
	msg := fmt.Sprintf("%s %s is not served by the control plane (is its CRD installed?): %v", req.GVK.GroupVersion(), req.GVK.Kind, err)
	for _, pp := range c.cache.PropagationPolicies("") {
		if namesKind(pp.Spec.ResourceSelectors, req.GVK) {
			c.recorder.Event(pp, corev1.EventTypeWarning, ReasonKindNotServed, msg)
		}
	}
	for _, cpp := range c.cache.ClusterPropagationPolicies() {
		if namesKind(cpp.Spec.ResourceSelectors, req.GVK) {
			c.recorder.Event(cpp, corev1.EventTypeWarning, ReasonKindNotServed, msg)
		}
	}
}

// stripManagedFields drops managedFields from cached templates: they are large and never read.
func stripManagedFields(obj any) (any, error) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		u.SetManagedFields(nil)
	}
	return obj, nil
}
