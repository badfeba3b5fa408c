package clusterstatus

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/fleetgate/fleetgate/apis/client"
	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	"github.com/fleetgate/fleetgate/bootstrap/access"
)

const fieldManager = "fleetgate-cluster-status"

// Options configure the controller.
type Options struct {
	// Period between two probes of one cluster (default 10s).
	Period time.Duration
	// Timeout of one probe (default 5s, at most Period).
	Timeout time.Duration
	// Workers probing in parallel (default 4).
	Workers int
	Clock   clock.WithTicker
}

// Controller keeps every Cluster's status current.
type Controller struct {
	opts     Options
	dyn      dynamic.Interface
	clusters *client.Resource[clusterv1alpha1.Cluster, *clusterv1alpha1.Cluster]
	access   access.Getter
	informer cache.SharedIndexInformer
	queue    workqueue.TypedRateLimitingInterface[string]
}

// New returns a controller over the host's Clusters that reaches members through a.
func New(host dynamic.Interface, a access.Getter, o Options) *Controller {
	if o.Period == 0 {
		o.Period = 10 * time.Second
	}
	if o.Timeout == 0 || o.Timeout > o.Period {
		o.Timeout = min(5*time.Second, o.Period)
	}
	if o.Workers == 0 {
		o.Workers = 4
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	f := dynamicinformer.NewDynamicSharedInformerFactory(host, 0)
	c := &Controller{
		opts:     o,
		dyn:      host,
		clusters: client.Clusters(host),
		access:   a,
		informer: f.ForResource(clusterv1alpha1.GroupVersion.WithResource("clusters")).Informer(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "cluster-status", Clock: o.Clock}),
	}
	_, _ = c.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.enqueue,
		UpdateFunc: func(old, cur any) {
			// Our own status writes come back as updates; only spec changes need a probe now.
			if o, ok := old.(*unstructured.Unstructured); ok {
				if n, ok := cur.(*unstructured.Unstructured); ok && o.GetGeneration() == n.GetGeneration() {
					return
				}
			}
			c.enqueue(cur)
		},
	})
	return c
}

func (c *Controller) enqueue(obj any) {
	if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(key)
	}
}

// HasSynced reports whether the Cluster cache is filled.
func (c *Controller) HasSynced() bool { return c.informer.HasSynced() }

// Run probes clusters until ctx is done.
func (c *Controller) Run(ctx context.Context) error {
	defer utilruntime.HandleCrash()
	defer c.queue.ShutDown()
	logger := klog.FromContext(ctx).WithName("cluster-status")
	go c.informer.RunWithContext(ctx)
	if !cache.WaitForCacheSync(ctx.Done(), c.informer.HasSynced) {
		return fmt.Errorf("cluster-status: cache did not sync")
	}
	logger.Info("Started", "period", c.opts.Period, "workers", c.opts.Workers)
	for range c.opts.Workers {
		go wait.UntilWithContext(ctx, c.runWorker, time.Second)
	}
	<-ctx.Done()
	return nil
}

func (c *Controller) runWorker(ctx context.Context) {
	for c.processNextWorkItem(ctx) {
	}
}

func (c *Controller) processNextWorkItem(ctx context.Context) bool {
	name, shutdown := c.queue.Get()
	if shutdown {
		return false
	}
	defer c.queue.Done(name)
	err := c.sync(ctx, name)
	if err != nil {
		klog.FromContext(ctx).Error(err, "Cluster status not updated", "cluster", name)
		c.queue.AddRateLimited(name)
		return true
	}
	c.queue.Forget(name)
	return true
}

// sync probes one cluster and records the result; a deleted cluster is forgotten.
func (c *Controller) sync(ctx context.Context, name string) error {
	obj, exists, err := c.informer.GetIndexer().GetByKey(name)
	if err != nil {
		return err
	}
	if !exists {
		return nil
	}
	cur, err := client.FromUnstructured[clusterv1alpha1.Cluster](obj.(*unstructured.Unstructured))
	if err != nil {
		return err
	}
	defer c.queue.AddAfter(name, c.opts.Period)
	pctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	p, probeErr := c.probe(pctx, name)

	want := cur.DeepCopy()
	setReady(want, p, probeErr, c.opts.Clock.Now())
	if !equality.Semantic.DeepEqual(want.Status, cur.Status) {
		updated, err := c.clusters.UpdateStatus(ctx, want, metav1.UpdateOptions{FieldManager: fieldManager})
		if apierrors.IsNotFound(err) {
			return nil // unjoined meanwhile
		}
		if err != nil {
			return fmt.Errorf("update status of cluster %s: %w", name, err)
		}
		want.ResourceVersion = updated.ResourceVersion
	}
	if setNotReadyTaint(want, p.ready) {
		if _, err := c.clusters.Update(ctx, want, metav1.UpdateOptions{FieldManager: fieldManager}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("update taints of cluster %s: %w", name, err)
		}
	}
	return nil
}

func (c *Controller) probe(ctx context.Context, name string) (probe, error) {
	cfg, err := c.access.Config(ctx, name)
	if err != nil {
		return probe{message: err.Error()}, nil
	}
	cfg.Timeout = c.opts.Timeout
	return probeMember(ctx, cfg)
}

// setReady writes the probe into the status. probeErr (a failure after /readyz answered) keeps the
// last known details and only reports itself in the condition message.
func setReady(c *clusterv1alpha1.Cluster, p probe, probeErr error, now time.Time) {
	cond := metav1.Condition{
		Type:               clusterv1alpha1.ClusterConditionReady,
		ObservedGeneration: c.Generation,
		LastTransitionTime: metav1.NewTime(now),
	}
	switch {
	case !p.ready:
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, "ClusterNotReachable", p.message
	case probeErr != nil:
		cond.Status, cond.Reason, cond.Message = metav1.ConditionTrue, "ClusterReady", "cluster is healthy; status incomplete: "+probeErr.Error()
	default:
		cond.Status, cond.Reason, cond.Message = metav1.ConditionTrue, "ClusterReady", "cluster is healthy and ready to accept workloads"
		conds := c.Status.Conditions
		c.Status = p.status
		c.Status.Conditions = conds
	}
	meta.SetStatusCondition(&c.Status.Conditions, cond)
}

// setNotReadyTaint adds or removes the not-ready NoSchedule taint; it reports whether it changed.
func setNotReadyTaint(c *clusterv1alpha1.Cluster, ready bool) bool {
	idx := -1
	for i, t := range c.Spec.Taints {
		if t.Key == clusterv1alpha1.TaintClusterNotReady && t.Effect == corev1.TaintEffectNoSchedule {
			idx = i
		}
	}
	switch {
	case ready && idx >= 0:
		c.Spec.Taints = append(c.Spec.Taints[:idx], c.Spec.Taints[idx+1:]...)
		return true
	case !ready && idx < 0:
		now := metav1.Now()
		c.Spec.Taints = append(c.Spec.Taints, corev1.Taint{
			Key: clusterv1alpha1.TaintClusterNotReady, Effect: corev1.TaintEffectNoSchedule, TimeAdded: &now,
		})
		return true
	}
	return false
}
