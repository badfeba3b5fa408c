package reconcile

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
)

// dispatcher owns one member cluster's queue and workers. Only they write to that member.
type dispatcher struct {
	name    string
	queue   workqueue.TypedRateLimitingInterface[clusterItem]
	workers sync.WaitGroup
	// seen is the cluster's state as last handled by the cluster worker (only it touches seen).
	seen clusterState

	nsMu       sync.Mutex
	namespaces map[string]bool // created (or found) in the member by this process

	// copies watches fleetgate's copies in the member (drift).
	copies *copyWatch

	occMu    sync.Mutex
	occupied map[schema.GroupKind]occupancy // what the last sweep of each kind listed
}

// occupancy is the names of every object of one kind a sweep listed in the member, managed or
// not, and when the listing began.
type occupancy struct {
	names    map[string]bool // "namespace/name"
	listedAt time.Time
}

// occupancyFor is how long a sweep's listing is trusted to say that no object of a name is in the
// way of a copy.
const occupancyFor = time.Minute

// setOccupied records what a sweep of gk listed, for occupancyFor: then it is dropped (every name
// of every object of the kind in the member is not to be held longer than it is trusted).
func (d *dispatcher) setOccupied(gk schema.GroupKind, o occupancy) {
	d.occMu.Lock()
	defer d.occMu.Unlock()
	if d.occupied == nil {
		d.occupied = map[schema.GroupKind]occupancy{}
	}
	d.occupied[gk] = o
	time.AfterFunc(occupancyFor, func() {
		d.occMu.Lock()
		defer d.occMu.Unlock()
		if cur, ok := d.occupied[gk]; ok && cur.listedAt.Equal(o.listedAt) {
			delete(d.occupied, gk)
		}
	})
}

// knownAbsent reports whether the last sweep of gk, begun within occupancyFor before now, found no
// object namespace/name in the member.
func (d *dispatcher) knownAbsent(gk schema.GroupKind, namespace, name string, now time.Time) bool {
	d.occMu.Lock()
	defer d.occMu.Unlock()
	o, ok := d.occupied[gk]
	return ok && now.Sub(o.listedAt) < occupancyFor && !o.names[namespace+"/"+name]
}

// clusterState is what of a Cluster changes placements: readiness, spec (generation), labels.
type clusterState struct {
	ready      bool
	generation int64
	labels     string
}

func stateOf(c *clusterv1alpha1.Cluster) clusterState {
	return clusterState{ready: clusterv1alpha1.IsReady(c), generation: c.Generation, labels: labels.Set(c.Labels).String()}
}

func (d *dispatcher) namespaceKnown(ns string) bool {
	d.nsMu.Lock()
	defer d.nsMu.Unlock()
	return d.namespaces[ns]
}

func (d *dispatcher) setNamespace(ns string, known bool) {
	d.nsMu.Lock()
	defer d.nsMu.Unlock()
	if known {
		d.namespaces[ns] = true
	} else {
		delete(d.namespaces, ns)
	}
}

// sweepTimeout bounds the sweep a new dispatcher runs before its workers start.
const sweepTimeout = 30 * time.Second

// startDispatcher starts a cluster's workers in ctx (Run's context). With sweepFirst (the cluster
// is Ready) they start after a sweep, so that they know which copies and namespaces exist: after a
// restart nothing is written twice and no copy is read needlessly. Work queued meanwhile waits.
func (c *Controller) startDispatcher(ctx context.Context, name string, sweepFirst bool) *dispatcher {
	d := &dispatcher{
		name: name,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[clusterItem](50*time.Millisecond, 30*time.Second),
			workqueue.TypedRateLimitingQueueConfig[clusterItem]{Name: "member-" + name, Clock: c.opts.QueueClock, MetricsProvider: c.opts.QueueMetrics}),
		namespaces: map[string]bool{},
		copies:     newCopyWatch(ctx, name),
	}
	work := func() {
		for c.processNextClusterItem(ctx, d) {
		}
	}
	d.workers.Go(func() {
		c.ensureCopyWatch(d)
		if sweepFirst {
			sctx, cancel := context.WithTimeout(ctx, sweepTimeout)
			if err := c.sweep(sctx, d, schema.GroupKind{}); err != nil && ctx.Err() == nil {
				klog.FromContext(ctx).Error(err, "Sweep incomplete; retrying", "cluster", name)
				d.queue.AddRateLimited(clusterItem{Sweep: true})
			}
			cancel()
		}
		for range c.opts.ClusterWorkers - 1 {
			d.workers.Go(work)
		}
		work()
	})
	return d
}

// dispatcher returns a cluster's dispatcher, nil when it has none.
func (c *Controller) dispatcher(name string) *dispatcher {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dispatchers[name]
}

func (c *Controller) runClusterWorker(ctx context.Context) {
	for c.processNextCluster(ctx) {
	}
}

func (c *Controller) processNextCluster(ctx context.Context) bool {
	name, shutdown := c.clusterQueue.Get()
	if shutdown {
		return false
	}
	defer c.clusterQueue.Done(name)
	c.syncCluster(ctx, name)
	c.clusterQueue.Forget(name)
	return true
}

// syncCluster keeps a cluster's dispatcher in line with its Cluster: started when it appears,
// stopped when it goes; a sweep when it becomes Ready; and every template looked at again when
// something that placement depends on changed.
func (c *Controller) syncCluster(ctx context.Context, name string) {
	logger := klog.FromContext(ctx)
	cl, exists := c.cache.Cluster(name)
	c.mu.Lock()
	if c.runCtx == nil { // not running yet (or any more): Run handles every cluster when it starts
		c.mu.Unlock()
		return
	}
	d := c.dispatchers[name]
	if !exists {
		delete(c.dispatchers, name)
		c.mu.Unlock()
		if d != nil {
			d.queue.ShutDown()
			d.copies.cancel()
			c.opts.Members.Forget(name)
			logger.Info("Cluster removed: its copies are no longer tracked", "cluster", name)
		}
		for _, k := range c.tracker.forgetCluster(name) {
			c.queue.Add(k)
		}
		c.enqueueAll()
		return
	}
	now := stateOf(cl)
	fresh := d == nil
	if fresh {
		d = c.startDispatcher(c.runCtx, name, now.ready)
		c.dispatchers[name] = d
	}
	c.mu.Unlock()
	prev := d.seen
	d.seen = now
	if !fresh && now == prev {
		return
	}
	if now.ready && !fresh && !prev.ready {
		logger.Info("Cluster is Ready: sweeping it and retrying what failed there", "cluster", name)
		d.queue.Add(clusterItem{Sweep: true})
		for _, k := range c.tracker.failed(name) {
			item := clusterItem{Key: k}
			d.queue.Forget(item) // start its backoff afresh: the cluster is back
			d.queue.Add(item)
		}
	}
	c.enqueueAll()
}

// enqueueAll queues every template that propagates or may now propagate: the claimed ones, the
// ones with a binding, and every Namespace.
func (c *Controller) enqueueAll() {
	for _, k := range c.kinds.all() {
		if k.isNamespace() {
			for _, key := range k.keys("") {
				c.queue.Add(key)
			}
			continue
		}
		for _, key := range k.claimed() {
			c.queue.Add(key)
		}
	}
	for _, b := range c.cache.ResourceBindings() {
		if key, ok := c.keyOfResource(b.Spec.Resource); ok {
			c.queue.Add(key)
		}
	}
	for _, b := range c.cache.ClusterResourceBindings() {
		if key, ok := c.keyOfResource(b.Spec.Resource); ok {
			c.queue.Add(key)
		}
	}
}

// readyDispatchers returns the dispatchers of the clusters that are Ready, sorted by name.
func (c *Controller) readyDispatchers() []*dispatcher {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*dispatcher
	for _, d := range c.dispatchers {
		if cl, ok := c.cache.Cluster(d.name); ok && clusterv1alpha1.IsReady(cl) {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return strings.Compare(out[i].name, out[j].name) < 0 })
	return out
}
