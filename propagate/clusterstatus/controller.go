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
	"k8s.io/utils/ptr"

	"github.com/fleetgate/fleetgate/apis/client"
	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	"github.com/fleetgate/fleetgate/bootstrap/access"
)

const fieldManager = "fleetgate-cluster-status"

// Options configure the controller. The zero value of each field means its default.
type Options struct {
	// Period between the starts of two probes of one cluster (default 10s). After a probe that took
	// longer than half the period the next one waits half a period, so a slow member never keeps a
	// worker busy without a break.
	Period time.Duration
	// Timeout of one probe (default 5s). It is independent of Period: a member that answers more
	// slowly than one period is not reported unreachable for that alone.
	Timeout time.Duration
	// FailureThreshold is how long a Ready cluster must fail its probes without a break before it is
	// recorded Ready=False and tainted not-ready (default 30s, Karmada's --cluster-failure-threshold;
	// zero: at the first failure).
	FailureThreshold *time.Duration
	// SuccessThreshold is how long a cluster recorded Ready=False must pass its probes without a
	// break before it is recorded Ready=True and untainted (default 30s, Karmada's
	// --cluster-success-threshold; zero: at the first success).
	SuccessThreshold *time.Duration
	// Workers probing in parallel (default 4).
	Workers int
	// Renewer renews Push members' credentials when they are due, in the visit before the probe
	// (nil: never). Asked again only when its last answer said a renewal is due (or after 10
	// minutes), and at the next visit after a failure.
	Renewer CredentialRenewer
	// Recorder receives the events of renewals on the Cluster (nil: none).
	Recorder EventRecorder
	Clock    clock.WithTicker
}

// Defaults of Options.Timeout, and of Options.FailureThreshold and Options.SuccessThreshold.
const (
	DefaultTimeout   = 5 * time.Second
	DefaultThreshold = 30 * time.Second
)

// Controller keeps every Cluster's status current.
type Controller struct {
	opts     Options
	dyn      dynamic.Interface
	clusters *client.Resource[clusterv1alpha1.Cluster, *clusterv1alpha1.Cluster]
	prober   prober
	health   *healthCache
	renewals renewals
	informer cache.SharedIndexInformer
	queue    workqueue.TypedRateLimitingInterface[string]
}

// withDefaults fills in the fields left zero.
func (o Options) withDefaults() Options {
	if o.Period == 0 {
		o.Period = 10 * time.Second
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.FailureThreshold == nil {
		o.FailureThreshold = ptr.To(DefaultThreshold)
	}
	if o.SuccessThreshold == nil {
		o.SuccessThreshold = ptr.To(DefaultThreshold)
	}
	if o.Workers == 0 {
		o.Workers = 4
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	return o
}

// New returns a controller over the host's Clusters that reaches members through a.
func New(host dynamic.Interface, a access.Getter, o Options) *Controller {
	o = o.withDefaults()
	f := dynamicinformer.NewDynamicSharedInformerFactory(host, 0)
	c := &Controller{
		opts:     o,
		dyn:      host,
		clusters: client.Clusters(host),
		prober:   accessProber{access: a, timeout: o.Timeout},
		health:   newHealthCache(*o.FailureThreshold, *o.SuccessThreshold),
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
		// A deleted cluster's sync forgets its health.
		DeleteFunc: c.enqueue,
	})
	return c
}

func (c *Controller) enqueue(obj any) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
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
	logger.Info("Started", "period", c.opts.Period, "timeout", c.opts.Timeout, "failureThreshold", *c.opts.FailureThreshold,
		"successThreshold", *c.opts.SuccessThreshold, "workers", c.opts.Workers)
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

// sync renews one cluster's credentials when due, probes it and records the result; a deleted
// cluster is forgotten.
func (c *Controller) sync(ctx context.Context, name string) error {
	obj, exists, err := c.informer.GetIndexer().GetByKey(name)
	if err != nil {
		return err
	}
	if !exists {
		c.health.forget(name)
		c.renewals.forget(name)
		return nil
	}
	cur, err := client.FromUnstructured[clusterv1alpha1.Cluster](obj.(*unstructured.Unstructured))
	if err != nil {
		return err
	}
	start := c.opts.Clock.Now()
	defer func() { c.queue.AddAfter(name, c.nextProbe(start)) }()
	c.renew(ctx, cur)
	return c.record(ctx, cur, c.observe(ctx, cur))
}

// nextProbe is how long after now the probe after one that began at start is due: Period after
// start, but at least half a Period from now.
func (c *Controller) nextProbe(start time.Time) time.Duration {
	return max(c.opts.Period-c.opts.Clock.Since(start), c.opts.Period/2)
}

// observe probes cur's member, at most for Timeout, and returns cur with the status to record: the
// probe's, unless the health cache holds the recorded Ready condition until its threshold.
func (c *Controller) observe(ctx context.Context, cur *clusterv1alpha1.Cluster) *clusterv1alpha1.Cluster {
	pctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	p, probeErr := c.prober.Probe(pctx, cur.Name)
	want := cur.DeepCopy()
	now := c.opts.Clock.Now()
	if held, since := c.health.hold(cur, p.ready, now); held {
		klog.FromContext(ctx).V(4).Info("Cluster health changed; Ready condition kept until the threshold",
			"cluster", klog.KObj(cur), "healthy", p.ready, "since", since, "message", p.message)
		return want
	}
	setReady(want, p, probeErr, now)
	return want
}

// record writes want's status, and the not-ready taint that follows its recorded Ready condition,
// to the host when they differ from cur.
func (c *Controller) record(ctx context.Context, cur, want *clusterv1alpha1.Cluster) error {
	if !equality.Semantic.DeepEqual(want.Status, cur.Status) {
		updated, err := c.clusters.UpdateStatus(ctx, want, metav1.UpdateOptions{FieldManager: fieldManager})
		if apierrors.IsNotFound(err) {
			return nil // unjoined meanwhile
		}
		if err != nil {
			return fmt.Errorf("update status of cluster %s: %w", want.Name, err)
		}
		want.ResourceVersion = updated.ResourceVersion
	}
	if setNotReadyTaint(want, clusterv1alpha1.IsReady(want)) {
		if _, err := c.clusters.Update(ctx, want, metav1.UpdateOptions{FieldManager: fieldManager}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("update taints of cluster %s: %w", want.Name, err)
		}
	}
	return nil
}

// prober looks at one member; sync bounds ctx by Options.Timeout.
type prober interface {
	Probe(ctx context.Context, cluster string) (probe, error)
}

// accessProber reaches members through bootstrap/access.
type accessProber struct {
	access  access.Getter
	timeout time.Duration
}

func (a accessProber) Probe(ctx context.Context, name string) (probe, error) {
	cfg, err := a.access.Config(ctx, name)
	if err != nil {
		return probe{message: err.Error()}, nil
	}
	cfg.Timeout = a.timeout
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
