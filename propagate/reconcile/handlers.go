package reconcile

import (
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	toolscache "k8s.io/client-go/tools/cache"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	workv1alpha2 "github.com/fleetgate/fleetgate/apis/work/v1alpha2"
	"github.com/fleetgate/fleetgate/propagate/cache"
	"github.com/fleetgate/fleetgate/propagate/claim"
	"github.com/fleetgate/fleetgate/propagate/selector"
)

// Event handlers only enqueue: template keys, cluster names, kinds to watch. They read the
// caches to find the templates an event concerns.

// untomb unwraps a tombstone.
func untomb(obj any) any {
	if t, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		return t.Obj
	}
	return obj
}

func (c *Controller) addHandlers() {
	inf := c.cache.Informer
	_, _ = inf(cache.PropagationPoliciesGVR).AddEventHandler(c.policyHandler(func(o any) (*policyv1alpha1.PropagationSpec, string, claim.Ref, bool) {
		pp, ok := untomb(o).(*policyv1alpha1.PropagationPolicy)
		if !ok {
			return nil, "", claim.Ref{}, false
		}
		return &pp.Spec, pp.Namespace, claim.PropagationPolicyRef(pp), true
	}))
	_, _ = inf(cache.ClusterPropagationPoliciesGVR).AddEventHandler(c.policyHandler(func(o any) (*policyv1alpha1.PropagationSpec, string, claim.Ref, bool) {
		cpp, ok := untomb(o).(*policyv1alpha1.ClusterPropagationPolicy)
		if !ok {
			return nil, "", claim.Ref{}, false
		}
		return &cpp.Spec, "", claim.ClusterPropagationPolicyRef(cpp), true
	}))
	_, _ = inf(cache.OverridePoliciesGVR).AddEventHandler(c.overrideHandler(func(o any) ([]policyv1alpha1.ResourceSelector, string, bool) {
		op, ok := untomb(o).(*policyv1alpha1.OverridePolicy)
		if !ok {
			return nil, "", false
		}
		return op.Spec.ResourceSelectors, op.Namespace, true
	}))
	_, _ = inf(cache.ClusterOverridePoliciesGVR).AddEventHandler(c.overrideHandler(func(o any) ([]policyv1alpha1.ResourceSelector, string, bool) {
		cop, ok := untomb(o).(*policyv1alpha1.ClusterOverridePolicy)
		if !ok {
			return nil, "", false
		}
		return cop.Spec.ResourceSelectors, "", true
	}))
	_, _ = inf(cache.ClustersGVR).AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueCluster,
		UpdateFunc: func(_, cur any) { c.enqueueCluster(cur) },
		DeleteFunc: c.enqueueCluster,
	})
	for _, gvr := range []schema.GroupVersionResource{cache.ResourceBindingsGVR, cache.ClusterResourceBindingsGVR} {
		_, _ = inf(gvr).AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc: func(o any) { c.bindingChanged(o) },
			UpdateFunc: func(old, cur any) {
				if bindingSpecChanged(old, cur) {
					c.bindingChanged(old) // a workload's binding that stopped propagating dependencies
					c.bindingChanged(cur)
				}
			},
			DeleteFunc: func(o any) { c.bindingChanged(o) },
		})
	}
}

func (c *Controller) enqueueCluster(obj any) {
	if cl, ok := untomb(obj).(*clusterv1alpha1.Cluster); ok {
		c.clusterQueue.Add(cl.Name)
	}
}

// templateHandler queues the templates of kind k; updates that change neither spec, metadata nor
// deletion (a status update) are skipped.
func (c *Controller) templateHandler(k *kind) toolscache.ResourceEventHandler {
	enqueue := func(obj any) {
		if m, ok := untomb(obj).(metav1.Object); ok {
			c.queue.Add(KeyFor(k.gk(), m))
		}
	}
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc: enqueue,
		UpdateFunc: func(old, cur any) {
			if templateChanged(old, cur) {
				enqueue(cur)
			}
		},
		DeleteFunc: enqueue,
	}
}

func templateChanged(old, cur any) bool {
	o, ok1 := old.(*cachedTemplate)
	n, ok2 := cur.(*cachedTemplate)
	return !ok1 || !ok2 || changedTemplate(o, n)
}

// policyHandler queues, for a propagation policy's event, the templates it selects or selected
// and those whose recorded claim names it, and asks for the kinds it names to be watched.
func (c *Controller) policyHandler(read func(any) (*policyv1alpha1.PropagationSpec, string, claim.Ref, bool)) toolscache.ResourceEventHandler {
	handle := func(objs ...any) {
		for _, o := range objs {
			spec, ns, ref, ok := read(o)
			if !ok {
				continue
			}
			for _, gk := range policyKinds(spec) {
				c.requestKind(gk)
			}
			c.enqueueSelected(spec.ResourceSelectors, ns)
			for _, k := range c.kinds.all() {
				for _, key := range k.claimedBy(ref) {
					c.queue.Add(key)
				}
			}
		}
	}
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc: func(o any) { handle(o) },
		UpdateFunc: func(old, cur any) {
			om, ok1 := old.(metav1.Object)
			nm, ok2 := cur.(metav1.Object)
			if ok1 && ok2 && om.GetGeneration() == nm.GetGeneration() && (om.GetDeletionTimestamp() == nil) == (nm.GetDeletionTimestamp() == nil) {
				return
			}
			handle(old, cur)
		},
		DeleteFunc: func(o any) { handle(o) },
	}
}

// enqueueSelected queues the watched templates that selectors select (policyNamespace as in
// selector.MatchesSelector).
func (c *Controller) enqueueSelected(selectors []policyv1alpha1.ResourceSelector, policyNamespace string) {
	for i := range selectors {
		rs := &selectors[i]
		k := c.kinds.get(schema.FromAPIVersionAndKind(rs.APIVersion, rs.Kind).GroupKind())
		if k == nil {
			continue
		}
		ns := policyNamespace
		if ns == "" {
			ns = rs.Namespace
		}
		for _, key := range k.keys(ns) {
			if obj, ok := k.get(key); ok {
				if match, _ := selector.MatchesSelector(obj, rs, policyNamespace); match {
					c.queue.Add(key)
				}
			}
		}
	}
}

// overrideHandler queues, for an override policy's event, the propagating templates it selects
// (all of its namespace, or all, when it has no selectors).
func (c *Controller) overrideHandler(read func(any) ([]policyv1alpha1.ResourceSelector, string, bool)) toolscache.ResourceEventHandler {
	handle := func(objs ...any) {
		for _, o := range objs {
			selectors, ns, ok := read(o)
			if !ok {
				continue
			}
			for _, key := range c.propagating() {
				if ns != "" && key.Namespace != ns {
					continue
				}
				if len(selectors) == 0 {
					c.queue.Add(key)
					continue
				}
				k := c.kinds.get(key.Kind)
				if k == nil {
					continue
				}
				if obj, ok := k.get(key); ok {
					if match, _ := selector.MatchesSelectors(obj, selectors, ns); match {
						c.queue.Add(key)
					}
				}
			}
		}
	}
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { handle(o) },
		UpdateFunc: func(old, cur any) { handle(old, cur) },
		DeleteFunc: func(o any) { handle(o) },
	}
}

// propagating returns the templates that are claimed or have a binding.
func (c *Controller) propagating() []Key {
	set := map[Key]bool{}
	for _, k := range c.kinds.all() {
		for _, key := range k.claimed() {
			set[key] = true
		}
	}
	for _, b := range c.cache.ResourceBindings() {
		if key, ok := c.keyOfResource(b.Spec.Resource); ok {
			set[key] = true
		}
	}
	for _, b := range c.cache.ClusterResourceBindings() {
		if key, ok := c.keyOfResource(b.Spec.Resource); ok {
			set[key] = true
		}
	}
	out := make([]Key, 0, len(set))
	for key := range set {
		out = append(out, key)
	}
	return out
}

// bindingChanged queues a binding's template; for a workload's binding (propagateDeps) also its
// dependencies, whose targets follow its clusters: those the index knows and those whose
// bindings list it in spec.requiredBy (the index forgets a workload before its binding is gone).
// An unknown kind is asked to be watched.
func (c *Controller) bindingChanged(obj any) {
	var (
		r    workv1alpha2.ObjectReference
		meta metav1.Object
		deps bool
	)
	switch b := untomb(obj).(type) {
	case *workv1alpha2.ResourceBinding:
		r, meta, deps = b.Spec.Resource, b, b.Spec.PropagateDeps
	case *workv1alpha2.ClusterResourceBinding:
		r, meta, deps = b.Spec.Resource, b, b.Spec.PropagateDeps
	default:
		return
	}
	key, ok := c.keyOfResource(r)
	if !ok {
		c.requestKind(resourceKind(r))
		return
	}
	c.queue.Add(key)
	for _, d := range c.deps.of(key) {
		c.queue.Add(d)
	}
	if !deps {
		return
	}
	for _, b := range c.cache.ResourceBindings() {
		for _, s := range b.Spec.RequiredBy {
			if s.Namespace == meta.GetNamespace() && s.Name == meta.GetName() {
				if d, ok := c.keyOfResource(b.Spec.Resource); ok {
					c.queue.Add(d)
				}
			}
		}
	}
}

// bindingSpecChanged reports whether an update changed more than the binding's status.
func bindingSpecChanged(old, cur any) bool {
	om, ok1 := old.(metav1.Object)
	nm, ok2 := cur.(metav1.Object)
	if !ok1 || !ok2 {
		return true
	}
	return om.GetGeneration() != nm.GetGeneration() || !equality.Semantic.DeepEqual(om.GetAnnotations(), nm.GetAnnotations()) ||
		(om.GetDeletionTimestamp() == nil) != (nm.GetDeletionTimestamp() == nil)
}

// policyKinds are the kinds a propagation policy needs watched: those its selectors name, and the
// dependency kinds when it propagates dependencies.
func policyKinds(spec *policyv1alpha1.PropagationSpec) []schema.GroupKind {
	var out []schema.GroupKind
	for _, rs := range spec.ResourceSelectors {
		out = append(out, schema.FromAPIVersionAndKind(rs.APIVersion, rs.Kind).GroupKind())
	}
	if spec.PropagateDeps {
		out = append(out, dependencyKinds...)
	}
	return out
}

func resourceKind(r workv1alpha2.ObjectReference) schema.GroupKind {
	return schema.FromAPIVersionAndKind(r.APIVersion, r.Kind).GroupKind()
}

// namesKind reports whether selectors name gk (in any version).
func namesKind(selectors []policyv1alpha1.ResourceSelector, gk schema.GroupKind) bool {
	for _, rs := range selectors {
		if schema.FromAPIVersionAndKind(rs.APIVersion, rs.Kind).GroupKind() == gk {
			return true
		}
	}
	return false
}
