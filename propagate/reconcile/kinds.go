package reconcile

import (
	"context"
	"fmt"
	"sync"

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
	t, ok := o.(*cachedTemplate)
	if !ok {
		return nil, false
	}
	u := t.object()
	return u, u != nil
}

// has reports whether the informer holds the template of key (without decoding it).
func (k *kind) has(key Key) bool {
	s := key.Name
	if key.Namespace != "" {
		s = key.Namespace + "/" + key.Name
	}
	_, ok, err := k.informer.GetStore().GetByKey(s)
	return err == nil && ok
}

func (k *kind) isNamespace() bool { return k.gvk.GroupKind() == namespacesGK }

// gk is the kind's group and kind.
func (k *kind) gk() schema.GroupKind { return k.gvk.GroupKind() }

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
			out = append(out, KeyFor(k.gk(), m))
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
			out = append(out, KeyFor(k.gk(), m))
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
				out = append(out, KeyFor(k.gk(), m))
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
	if t, ok := obj.(*cachedTemplate); ok && t.claim != "" {
		return []string{t.claim}, nil
	}
	return nil, nil
}

// kinds is the registry of watched kinds, one per group and kind (whatever version policies name
// it by; the host's preferred version is watched). Informers start on demand and are never
// stopped: a kind that no policy names any more costs memory only. Kinds that can never be
// templates (fleetgate's and Karmada's own, events, leases, …) are remembered as ignored, and kinds
// the host does not serve as unserved until a CustomResourceDefinition is established.
type kinds struct {
	mapper  meta.ResettableRESTMapper
	factory dynamicinformer.DynamicSharedInformerFactory

	mu       sync.RWMutex
	byGK     map[schema.GroupKind]*kind
	unserved map[schema.GroupKind]bool
	ignored  map[schema.GroupKind]bool
	// parked holds the keys that were to be reconciled before their kind's informer had synced;
	// they are queued when it has.
	parked map[schema.GroupKind]map[Key]bool
}

func newKinds(mapper meta.ResettableRESTMapper, factory dynamicinformer.DynamicSharedInformerFactory) *kinds {
	return &kinds{mapper: mapper, factory: factory, byGK: map[schema.GroupKind]*kind{},
		unserved: map[schema.GroupKind]bool{}, ignored: map[schema.GroupKind]bool{}, parked: map[schema.GroupKind]map[Key]bool{}}
}

// get returns the watched kind gk, nil when it is not watched.
func (r *kinds) get(gk schema.GroupKind) *kind {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.byGK[gk]
}

// settled reports whether gk is known never to have templates here: ignored, or not served.
func (r *kinds) settled(gk schema.GroupKind) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.ignored[gk] || r.unserved[gk]
}

func (r *kinds) all() []*kind {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*kind, 0, len(r.byGK))
	for _, k := range r.byGK {
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

// park keeps key until its kind's informer has synced (or the kind turns out to be ignored or
// not served).
func (r *kinds) park(key Key) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.parked[key.Kind] == nil {
		r.parked[key.Kind] = map[Key]bool{}
	}
	r.parked[key.Kind][key] = true
}

// unpark returns and forgets the keys parked for gk.
func (r *kinds) unpark(gk schema.GroupKind) []Key {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Key, 0, len(r.parked[gk]))
	for k := range r.parked[gk] {
		out = append(out, k)
	}
	delete(r.parked, gk)
	return out
}

// resolve maps a kind to the host's preferred version of it, with its resource and scope. An
// unknown kind is looked up again after the discovery cache was reset (a CRD may just have been
// installed).
func (r *kinds) resolve(gk schema.GroupKind) (*meta.RESTMapping, error) {
	m, err := r.mapper.RESTMapping(gk)
	if err != nil {
		r.mapper.Reset()
		m, err = r.mapper.RESTMapping(gk)
	}
	return m, err
}

// requestKind asks for gk to be watched unless it is watched, ignored or known not to be served.
func (c *Controller) requestKind(gk schema.GroupKind) {
	if c.kinds.get(gk) == nil && !c.kinds.settled(gk) {
		c.kindQueue.Add(gk)
	}
}

// processNextKind is the kinds queue's worker step.
func (c *Controller) processNextKind(ctx context.Context) bool {
	gk, shutdown := c.kindQueue.Get()
	if shutdown {
		return false
	}
	defer c.kindQueue.Done(gk)
	if err := c.watchKind(ctx, gk, false); err != nil {
		c.kindQueue.AddRateLimited(gk) // the host did not answer: retry with backoff
		return true
	}
	c.kindQueue.Forget(gk)
	return true
}

// watchKind starts the informer of a requested kind unless it runs already. wait blocks until
// its cache is filled; otherwise a kind added while running is swept on every Ready cluster once
// its cache is filled (copies of it may have been left behind while nobody watched it). A kind the
// host does not serve is reported and settled (an established CRD brings it back); only other
// lookup failures are returned, to be retried.
func (c *Controller) watchKind(ctx context.Context, gk schema.GroupKind, wait bool) error {
	logger := klog.FromContext(ctx)
	if c.kinds.get(gk) != nil {
		return nil
	}
	m, err := c.kinds.resolve(gk)
	switch {
	case meta.IsNoMatchError(err):
		c.reportUnserved(ctx, gk, err)
		c.kinds.unpark(gk) // objects of a kind the host does not serve cannot exist
		return nil
	case err != nil:
		return err
	}
	if !claim.Propagatable(m.GroupVersionKind, "") {
		c.kinds.mu.Lock()
		c.kinds.ignored[gk] = true
		c.kinds.mu.Unlock()
		c.kinds.unpark(gk)
		return nil // fleetgate's and Karmada's own kinds, events, leases, …: never templates
	}
	c.kinds.mu.Lock()
	delete(c.kinds.unserved, gk)
	if c.kinds.byGK[gk] != nil {
		c.kinds.mu.Unlock()
		return nil
	}
	inf := c.kinds.factory.ForResource(m.Resource).Informer()
	_ = inf.SetTransform((&copyCodec{}).templateTransform)
	if err := inf.AddIndexers(toolscache.Indexers{claimIndex: claimIndexFunc}); err != nil {
		c.kinds.mu.Unlock()
		return fmt.Errorf("index %s: %w", m.Resource, err)
	}
	k := &kind{gvr: m.Resource, gvk: m.GroupVersionKind, namespaced: m.Scope.Name() == meta.RESTScopeNameNamespace, informer: inf}
	c.kinds.byGK[gk] = k
	c.kinds.mu.Unlock()
	_, _ = inf.AddEventHandler(c.templateHandler(k))
	c.kinds.factory.Start(ctx.Done())
	logger.Info("Watching templates", "resource", m.Resource.String(), "kind", gk.String())
	synced := func() {
		for _, key := range c.kinds.unpark(gk) {
			c.queue.Add(key)
		}
		c.watchCopies()
	}
	if wait {
		if toolscache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
			synced()
		}
		return nil
	}
	go func() {
		if toolscache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
			synced()
			c.sweepKind(gk)
		}
	}()
	return nil
}

// crdEstablished is the CustomResourceDefinition event handler: when one is established, the kinds
// the host did not serve are looked up again.
func (c *Controller) crdEstablished(obj any) {
	u, ok := untomb(obj).(*unstructured.Unstructured)
	if !ok {
		return
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	established := false
	for _, cd := range conds {
		if m, ok := cd.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
			established = true
		}
	}
	if !established {
		return
	}
	group, _, _ := unstructured.NestedString(u.Object, "spec", "group")
	kindName, _, _ := unstructured.NestedString(u.Object, "spec", "names", "kind")
	gk := schema.GroupKind{Group: group, Kind: kindName}
	c.kinds.mu.Lock()
	wasUnserved := c.kinds.unserved[gk]
	delete(c.kinds.unserved, gk)
	c.kinds.mu.Unlock()
	if wasUnserved {
		c.kinds.mapper.Reset()
		c.kindQueue.Add(gk)
	}
}

// reportUnserved logs a kind the host does not serve and warns on every policy that names it,
// once until it is served.
func (c *Controller) reportUnserved(ctx context.Context, gk schema.GroupKind, err error) {
	c.kinds.mu.Lock()
	reported := c.kinds.unserved[gk]
	c.kinds.unserved[gk] = true
	c.kinds.mu.Unlock()
	if reported {
		return
	}
	klog.FromContext(ctx).Error(err, "Kind not served by the host; objects of it are not propagated until its CRD is established", "kind", gk.String())
	msg := fmt.Sprintf("%s is not served by the control plane (is its CRD installed?): %v", gk.String(), err)
	for _, pp := range c.cache.PropagationPolicies("") {
		if namesKind(pp.Spec.ResourceSelectors, gk) {
			c.recorder.Event(pp, corev1.EventTypeWarning, ReasonKindNotServed, msg)
		}
	}
	for _, cpp := range c.cache.ClusterPropagationPolicies() {
		if namesKind(cpp.Spec.ResourceSelectors, gk) {
			c.recorder.Event(cpp, corev1.EventTypeWarning, ReasonKindNotServed, msg)
		}
	}
}
