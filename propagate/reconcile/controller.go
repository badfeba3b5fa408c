package reconcile

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic/dynamicinformer"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"github.com/fleetgate/fleetgate/apis/scheme"
	"github.com/fleetgate/fleetgate/propagate/cache"
)

// Controller reconciles templates, their member copies and their bindings.
type Controller struct {
	opts        Options
	cache       *cache.Cache
	recorder    EventRecorder
	broadcaster record.EventBroadcaster // nil when Options.Recorder was given
	bindings    bindingClient
	kinds       *kinds
	tracker     *tracker
	waiters     *waiters
	deps        *depIndex
	// statusWritten is what writeTemplateStatus wrote last, while the informer lags behind it.
	statusWritten writtenStatuses

	queue        workqueue.TypedRateLimitingInterface[Key]
	clusterQueue workqueue.TypedRateLimitingInterface[string]
	kindQueue    workqueue.TypedRateLimitingInterface[schema.GroupKind]

	mu          sync.Mutex
	dispatchers map[string]*dispatcher
	runCtx      context.Context // set by Run; dispatchers live in it
	workers     sync.WaitGroup

	synced, resynced atomic.Bool

	// onSync, when set (by tests), is told of every template key the workers take up.
	onSync func(Key)
}

// New returns a controller; Run starts it. It panics when Options.Host or Options.Kube is nil.
func New(o Options) *Controller {
	o, err := o.complete()
	if err != nil {
		panic(err)
	}
	c := &Controller{
		opts:        o,
		cache:       o.Cache,
		recorder:    o.Recorder,
		bindings:    newBindingClient(o.Host),
		kinds:       newKinds(o.Mapper, dynamicinformer.NewDynamicSharedInformerFactory(o.Host, 0)),
		tracker:     newTracker(),
		waiters:     newWaiters(),
		deps:        newDepIndex(),
		dispatchers: map[string]*dispatcher{},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.NewTypedMaxOfRateLimiter(
			workqueue.NewTypedItemExponentialFailureRateLimiter[Key](10*time.Millisecond, time.Minute),
			&workqueue.TypedBucketRateLimiter[Key]{Limiter: rate.NewLimiter(rate.Limit(200), 2000)},
		), workqueue.TypedRateLimitingQueueConfig[Key]{Name: "templates", Clock: o.QueueClock, MetricsProvider: o.QueueMetrics}),
		clusterQueue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "member-clusters", Clock: o.QueueClock, MetricsProvider: o.QueueMetrics}),
		kindQueue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[schema.GroupKind](),
			workqueue.TypedRateLimitingQueueConfig[schema.GroupKind]{Name: "template-kinds", Clock: o.QueueClock, MetricsProvider: o.QueueMetrics}),
	}
	if c.recorder == nil {
		s, err := scheme.New()
		if err != nil {
			panic(err)
		}
		c.broadcaster = record.NewBroadcaster()
		c.recorder = c.broadcaster.NewRecorder(s, corev1.EventSource{Component: "fleetgate"})
	}
	c.addHandlers()
	// A kind the host did not serve is looked up again when a CRD is established, not on a timer.
	crds := c.kinds.factory.ForResource(crdsGVR).Informer()
	_, _ = crds.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    c.crdEstablished,
		UpdateFunc: func(_, cur any) { c.crdEstablished(cur) },
	})
	return c
}

var crdsGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// Enqueue asks for key to be reconciled. Safe before Run and from any goroutine.
func (c *Controller) Enqueue(key Key) { c.queue.Add(key) }

// HasSynced reports whether Run has filled its caches, started the informers of every kind named
// when it started, and started its workers (with Options.Leading: before it leads, once the
// caches are filled).
func (c *Controller) HasSynced() bool { return c.synced.Load() }

// Run reconciles until ctx is done, then waits for its workers to stop. A Controller runs once.
func (c *Controller) Run(ctx context.Context) error {
	defer utilruntime.HandleCrash()
	logger := klog.FromContext(ctx).WithName("reconcile")
	ctx = klog.NewContext(ctx, logger)
	if c.broadcaster != nil {
		c.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.opts.Kube.CoreV1().Events("")})
		defer c.broadcaster.Shutdown()
	}
	defer c.stop()

	c.cache.Start(ctx)
	c.kinds.factory.Start(ctx.Done())
	if !c.cache.WaitForSync(ctx) {
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return fmt.Errorf("reconcile: caches did not sync")
	}
	for _, gk := range c.initialKinds() {
		if err := c.watchKind(ctx, gk, true); err != nil {
			c.kindQueue.AddRateLimited(gk)
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	if c.opts.Leading != nil {
		c.synced.Store(true)
		logger.Info("Caches synced; waiting to lead", "kinds", len(c.kinds.all()))
		select {
		case <-c.opts.Leading:
		case <-ctx.Done():
			return nil
		}
	}
	c.mu.Lock()
	c.runCtx = ctx
	c.mu.Unlock()
	for _, cl := range c.cache.Clusters() {
		c.syncCluster(ctx, cl.Name)
	}
	for range c.opts.Workers {
		c.workers.Go(func() { wait.UntilWithContext(ctx, c.runWorker, time.Second) })
	}
	c.workers.Go(func() { wait.UntilWithContext(ctx, c.runClusterWorker, time.Second) })
	c.workers.Go(func() {
		wait.UntilWithContext(ctx, func(ctx context.Context) {
			for c.processNextKind(ctx) {
			}
		}, time.Second)
	})
	if c.opts.ResyncPeriod > 0 {
		c.workers.Go(func() { wait.UntilWithContext(ctx, c.resync, c.opts.ResyncPeriod) })
	}
	c.synced.Store(true)
	logger.Info("Started", "workers", c.opts.Workers, "clusterWorkers", c.opts.ClusterWorkers, "kinds", len(c.kinds.all()))
	<-ctx.Done()
	return nil
}

// resync looks at every propagating template again and sweeps every Ready cluster. The first
// call (at start) does nothing: Run just did all of it.
func (c *Controller) resync(ctx context.Context) {
	if !c.resynced.Swap(true) {
		return
	}
	klog.FromContext(ctx).V(2).Info("Periodic resync")
	c.enqueueAll()
	for _, d := range c.readyDispatchers() {
		d.queue.Add(clusterItem{Sweep: true})
	}
}

// stop shuts the queues down and waits for every worker.
func (c *Controller) stop() {
	c.queue.ShutDown()
	c.clusterQueue.ShutDown()
	c.kindQueue.ShutDown()
	c.mu.Lock()
	ds := c.dispatchers
	c.dispatchers = map[string]*dispatcher{}
	c.runCtx = nil // syncCluster starts no dispatcher from now on
	c.mu.Unlock()
	for _, d := range ds {
		d.queue.ShutDown()
		d.copies.cancel()
	}
	c.workers.Wait()
	for _, d := range ds {
		d.workers.Wait()
	}
}

// initialKinds are the kinds watched from the start: Namespaces, every kind a policy or a binding
// names, and the dependency kinds when a policy propagates dependencies.
func (c *Controller) initialKinds() []schema.GroupKind {
	reqs := []schema.GroupKind{namespacesGK}
	for _, pp := range c.cache.PropagationPolicies("") {
		reqs = append(reqs, policyKinds(&pp.Spec)...)
	}
	for _, cpp := range c.cache.ClusterPropagationPolicies() {
		reqs = append(reqs, policyKinds(&cpp.Spec)...)
	}
	for _, rb := range c.cache.ResourceBindings() {
		reqs = append(reqs, resourceKind(rb.Spec.Resource))
	}
	for _, crb := range c.cache.ClusterResourceBindings() {
		reqs = append(reqs, resourceKind(crb.Spec.Resource))
	}
	return reqs
}

func (c *Controller) runWorker(ctx context.Context) {
	for c.processNextWorkItem(ctx) {
	}
}

func (c *Controller) processNextWorkItem(ctx context.Context) bool {
	key, shutdown := c.queue.Get()
	if shutdown {
		return false
	}
	defer c.queue.Done(key)
	if c.onSync != nil {
		c.onSync(key)
	}
	if err := c.sync(ctx, key); err != nil {
		logger := klog.FromContext(ctx)
		switch {
		case ctx.Err() != nil:
			return true // shutting down
		case apierrors.IsConflict(err):
			logger.V(2).Info("Template reconcile raced with another writer; retrying", "template", key, "err", err)
		default:
			logger.Error(err, "Template not reconciled; retrying", "template", key)
		}
		c.queue.AddRateLimited(key)
		return true
	}
	c.queue.Forget(key)
	return true
}
