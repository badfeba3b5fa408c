package cache

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	toolscache "k8s.io/client-go/tools/cache"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	workv1alpha2 "github.com/fleetgate/fleetgate/apis/work/v1alpha2"
)

// Resources the cache watches.
var (
	ClustersGVR                   = clusterv1alpha1.GroupVersion.WithResource("clusters")
	PropagationPoliciesGVR        = policyv1alpha1.GroupVersion.WithResource("propagationpolicies")
	ClusterPropagationPoliciesGVR = policyv1alpha1.GroupVersion.WithResource("clusterpropagationpolicies")
	OverridePoliciesGVR           = policyv1alpha1.GroupVersion.WithResource("overridepolicies")
	ClusterOverridePoliciesGVR    = policyv1alpha1.GroupVersion.WithResource("clusteroverridepolicies")
	ResourceBindingsGVR           = workv1alpha2.GroupVersion.WithResource("resourcebindings")
	ClusterResourceBindingsGVR    = workv1alpha2.GroupVersion.WithResource("clusterresourcebindings")
)

// Cache is the typed view of the host's fleetgate objects.
type Cache struct {
	factory   dynamicinformer.DynamicSharedInformerFactory
	informers map[schema.GroupVersionResource]toolscache.SharedIndexInformer

	mu       sync.Mutex
	observed map[schema.GroupVersionResource]map[string]runtime.Object // see Observe
}

// New creates the informers (not started).
func New(host dynamic.Interface) *Cache {
	c := &Cache{
		factory:   dynamicinformer.NewDynamicSharedInformerFactory(host, 0),
		informers: map[schema.GroupVersionResource]toolscache.SharedIndexInformer{},
		observed:  map[schema.GroupVersionResource]map[string]runtime.Object{},
	}
	add := func(gvr schema.GroupVersionResource, convert func(*unstructured.Unstructured) (runtime.Object, error)) {
		inf := c.factory.ForResource(gvr).Informer()
		_ = inf.SetTransform(func(obj any) (any, error) {
			u, ok := obj.(*unstructured.Unstructured)
			if !ok {
				return obj, nil // DeletedFinalStateUnknown and typed objects pass
			}
			// managedFields are large and never read; a binding updated from its cached copy
			// without them keeps the host's (the apiserver uses the live object's when a write
			// carries none).
			u.SetManagedFields(nil)
			return convert(u)
		})
		c.informers[gvr] = inf
		// The watch has caught up with an observed object once it delivers that key.
		_, _ = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { c.forget(gvr, obj, false) },
			UpdateFunc: func(_, obj any) { c.forget(gvr, obj, false) },
			DeleteFunc: func(obj any) { c.forget(gvr, obj, true) },
		})
	}
	for gvr, convert := range converters {
		add(gvr, convert)
	}
	return c
}

// converters turn the unstructured objects of each watched resource into their Go types.
var converters = map[schema.GroupVersionResource]func(*unstructured.Unstructured) (runtime.Object, error){
	ClustersGVR:                   typed[clusterv1alpha1.Cluster],
	PropagationPoliciesGVR:        typed[policyv1alpha1.PropagationPolicy],
	ClusterPropagationPoliciesGVR: typed[policyv1alpha1.ClusterPropagationPolicy],
	OverridePoliciesGVR:           typed[policyv1alpha1.OverridePolicy],
	ClusterOverridePoliciesGVR:    typed[policyv1alpha1.ClusterOverridePolicy],
	ResourceBindingsGVR:           typed[workv1alpha2.ResourceBinding],
	ClusterResourceBindingsGVR:    typed[workv1alpha2.ClusterResourceBinding],
}

func convertFor(gvr schema.GroupVersionResource, u *unstructured.Unstructured) (runtime.Object, error) {
	convert, ok := converters[gvr]
	if !ok {
		return nil, fmt.Errorf("resource %s is not cached", gvr)
	}
	return convert(u)
}

func typed[T any, P interface {
	*T
	runtime.Object
}](u *unstructured.Unstructured) (runtime.Object, error) {
	var obj T
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &obj); err != nil {
		return nil, fmt.Errorf("convert %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
	return P(&obj), nil
}

// Start runs the informers until ctx is done.
func (c *Cache) Start(ctx context.Context) { c.factory.Start(ctx.Done()) }

// HasSynced reports whether every informer has its initial list.
func (c *Cache) HasSynced() bool {
	for _, inf := range c.informers {
		if !inf.HasSynced() {
			return false
		}
	}
	return true
}

// WaitForSync blocks until the cache is synced or ctx is done.
func (c *Cache) WaitForSync(ctx context.Context) bool {
	return toolscache.WaitForCacheSync(ctx.Done(), c.HasSynced)
}

// Informer returns the informer of one of the watched resources, for event handlers.
func (c *Cache) Informer(gvr schema.GroupVersionResource) toolscache.SharedIndexInformer {
	return c.informers[gvr]
}

// Clusters returns every Cluster, sorted by name.
func (c *Cache) Clusters() []*clusterv1alpha1.Cluster {
	return list[clusterv1alpha1.Cluster](c, ClustersGVR, "")
}

// Cluster returns one Cluster.
func (c *Cache) Cluster(name string) (*clusterv1alpha1.Cluster, bool) {
	return get[clusterv1alpha1.Cluster](c.informers[ClustersGVR], name)
}

// PropagationPolicies returns the PropagationPolicies of a namespace.
func (c *Cache) PropagationPolicies(namespace string) []*policyv1alpha1.PropagationPolicy {
	return list[policyv1alpha1.PropagationPolicy](c, PropagationPoliciesGVR, namespace)
}

// ClusterPropagationPolicies returns every ClusterPropagationPolicy.
func (c *Cache) ClusterPropagationPolicies() []*policyv1alpha1.ClusterPropagationPolicy {
	return list[policyv1alpha1.ClusterPropagationPolicy](c, ClusterPropagationPoliciesGVR, "")
}

// OverridePolicies returns the OverridePolicies of a namespace.
func (c *Cache) OverridePolicies(namespace string) []*policyv1alpha1.OverridePolicy {
	return list[policyv1alpha1.OverridePolicy](c, OverridePoliciesGVR, namespace)
}

// ClusterOverridePolicies returns every ClusterOverridePolicy.
func (c *Cache) ClusterOverridePolicies() []*policyv1alpha1.ClusterOverridePolicy {
	return list[policyv1alpha1.ClusterOverridePolicy](c, ClusterOverridePoliciesGVR, "")
}

// ResourceBinding returns one ResourceBinding.
func (c *Cache) ResourceBinding(namespace, name string) (*workv1alpha2.ResourceBinding, bool) {
	return get[workv1alpha2.ResourceBinding](c.informers[ResourceBindingsGVR], namespace+"/"+name)
}

// ClusterResourceBinding returns one ClusterResourceBinding.
func (c *Cache) ClusterResourceBinding(name string) (*workv1alpha2.ClusterResourceBinding, bool) {
	return get[workv1alpha2.ClusterResourceBinding](c.informers[ClusterResourceBindingsGVR], name)
}

// ResourceBindings returns every ResourceBinding (all namespaces).
func (c *Cache) ResourceBindings() []*workv1alpha2.ResourceBinding {
	return list[workv1alpha2.ResourceBinding](c, ResourceBindingsGVR, "")
}

// ClusterResourceBindings returns every ClusterResourceBinding.
func (c *Cache) ClusterResourceBindings() []*workv1alpha2.ClusterResourceBinding {
	return list[workv1alpha2.ClusterResourceBinding](c, ClusterResourceBindingsGVR, "")
}

func list[T any](c *Cache, gvr schema.GroupVersionResource, namespace string) []*T {
	inf := c.informers[gvr]
	var objs []any
	if namespace == "" {
		objs = inf.GetStore().List()
	} else {
		objs, _ = inf.GetIndexer().ByIndex(toolscache.NamespaceIndex, namespace)
	}
	objs = c.withObserved(gvr, objs, namespace)
	out := make([]*T, 0, len(objs))
	for _, o := range objs {
		if t, ok := o.(*T); ok {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return key(out[i]) < key(out[j]) })
	return out
}

func get[T any](inf toolscache.SharedIndexInformer, key string) (*T, bool) {
	o, ok, err := inf.GetStore().GetByKey(key)
	if err != nil || !ok {
		return nil, false
	}
	t, ok := o.(*T)
	return t, ok
}

func key(o any) string {
	k, _ := toolscache.MetaNamespaceKeyFunc(o)
	return k
}

// Observe records an object the gateway itself just wrote, so that its own next request sees it
// (read your writes) even before the watch delivers it. The object is kept beside the informer's
// store (never in it: handlers must still see the watch's add or update) and shadows the stored
// version until the store holds one at least as new. Only watched resources are recorded.
func (c *Cache) Observe(gvr schema.GroupVersionResource, u *unstructured.Unstructured) {
	if _, ok := c.informers[gvr]; !ok {
		return
	}
	obj, err := convertFor(gvr, u)
	if err != nil {
		return
	}
	key, err := toolscache.MetaNamespaceKeyFunc(obj)
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.observed[gvr] == nil {
		c.observed[gvr] = map[string]runtime.Object{}
	}
	if old, ok := c.observed[gvr][key]; ok && !newer(obj, old) {
		return
	}
	c.observed[gvr][key] = obj
}

// forget drops the observation of obj's key once the watch delivered a version at least as new, or
// its deletion.
func (c *Cache) forget(gvr schema.GroupVersionResource, obj any, deleted bool) {
	if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj, deleted = d.Obj, true
	}
	key, err := toolscache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if o, ok := c.observed[gvr][key]; ok && (deleted || !newer(o, obj)) {
		delete(c.observed[gvr], key)
	}
}

// withObserved overlays the observed objects of gvr on what the store returned (objs, keyed
// "ns/name"), dropping observations the store has caught up with.
func (c *Cache) withObserved(gvr schema.GroupVersionResource, objs []any, namespace string) []any {
	c.mu.Lock()
	defer c.mu.Unlock()
	obs := c.observed[gvr]
	if len(obs) == 0 {
		return objs
	}
	store := c.informers[gvr].GetStore()
	for key, o := range obs {
		if cur, exists, _ := store.GetByKey(key); exists && !newer(o, cur) {
			delete(obs, key)
			continue
		}
		m, _ := meta.Accessor(o)
		if namespace != "" && m.GetNamespace() != namespace {
			continue
		}
		replaced := false
		for i, x := range objs {
			if k, _ := toolscache.MetaNamespaceKeyFunc(x); k == key {
				objs[i], replaced = o, true
			}
		}
		if !replaced {
			objs = append(objs, o)
		}
	}
	return objs
}

// newer compares the resourceVersions of two versions of one object (etcd revisions: numbers).
func newer(a, b any) bool {
	ma, errA := meta.Accessor(a)
	mb, errB := meta.Accessor(b)
	if errA != nil || errB != nil {
		return false
	}
	ra, errA := strconv.ParseUint(ma.GetResourceVersion(), 10, 64)
	rb, errB := strconv.ParseUint(mb.GetResourceVersion(), 10, 64)
	return errA == nil && errB == nil && ra > rb
}
