package webhook

import (
	"context"
	"sync"
	"time"

	"github.com/fleetgate/fleetgate/propagate/names"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/klog/v2"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	workv1alpha2 "github.com/fleetgate/fleetgate/apis/work/v1alpha2"
	"github.com/fleetgate/fleetgate/propagate/member"
	"github.com/fleetgate/fleetgate/propagate/plan"
)

// Enqueuer hands a template to the reconciler, and tells it which copies dispatch already wrote so
// that it does not write them again.
type Enqueuer interface {
	Enqueue(gvr schema.GroupVersionResource, namespace, name string)
	Applied(gvr schema.GroupVersionResource, namespace, name, cluster string, obj *unstructured.Unstructured, overwrite bool)
}

// dispatch writes the per-cluster objects of the committed template to the Ready members in parallel,
// bounded by timeout, so that the members already have them when the client's write returns. It is
// an optimisation: whatever fails or takes longer is left to the reconciler, to which every
// committed template is handed. Objects are derived from the committed object, never from the dry
// run (generateName).
type dispatch struct {
	handlesWrites
	clients    MemberClients
	namespaces *member.Namespaces
	cache      Lister
	timeout    time.Duration
	enqueuer   Enqueuer
}

var _ MutationInterface = dispatch{}

func (d dispatch) Admit(ctx context.Context, a *Attributes) error {
	if a.DryRun || a.Committed == nil {
		return nil
	}
	defer d.enqueuer.Enqueue(a.GVR, a.Committed.GetNamespace(), a.Committed.GetName())
	in := planInput(d.cache, a.Committed)
	in.Template = a.Committed
	p := plan.Compute(in)
	if !p.Claimed() || (p.Spec.Suspension != nil && p.Spec.Suspension.Dispatching != nil && *p.Spec.Suspension.Dispatching) {
		return nil
	}
	applied := appliedClusters(d.cache, a.Committed.GetNamespace(), names.BindingName(a.Committed.GetKind(), a.Committed.GetName()))
	overwrite := p.Spec.ConflictResolution == policyv1alpha1.ConflictOverwrite
	// What member dry-run checked holds for the committed object only if it has the same name
	// (generateName gives the real write another one).
	checked := a.Checked
	if a.Resolved == nil || a.Resolved.GetName() != a.Committed.GetName() {
		checked = nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.timeout)
	defer cancel()
	var wg sync.WaitGroup
	for name, cp := range p.Clusters {
		if cp.Err != nil || !clusterv1alpha1.IsReady(cp.Cluster) || suspendedOn(p.Spec.Suspension, name) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			logger := klog.FromContext(ctx).WithValues("cluster", name, "template", klog.KObj(a.Committed))
			c, err := d.clients.Dynamic(ctx, name)
			if err == nil {
				err = d.namespaces.Ensure(ctx, c, name, cp.Object.GetNamespace())
			}
			if err == nil {
				_, err = member.Apply(ctx, c, a.GVR, cp.Object, member.ApplyOptions{Overwrite: overwrite, KnownManaged: applied[name] || checked[name]})
			}
			if err != nil {
				logger.V(2).Info("Dispatch left to the reconciler", "err", err)
				return
			}
			d.enqueuer.Applied(a.GVR, a.Committed.GetNamespace(), a.Committed.GetName(), name, cp.Object, overwrite)
		}()
	}
	wg.Wait()
	return nil
}

// appliedClusters are the clusters where the binding says the copy was applied (so it is managed).
func appliedClusters(l Lister, namespace, bindingName string) map[string]bool {
	var items []workv1alpha2.AggregatedStatusItem
	if namespace != "" {
		if rb, ok := l.ResourceBinding(namespace, bindingName); ok {
			items = rb.Status.AggregatedStatus
		}
	} else if crb, ok := l.ClusterResourceBinding(bindingName); ok {
		items = crb.Status.AggregatedStatus
	}
	out := make(map[string]bool, len(items))
	for _, it := range items {
		out[it.ClusterName] = it.Applied
	}
	return out
}

func suspendedOn(s *policyv1alpha1.Suspension, cluster string) bool {
	if s == nil || s.DispatchingOnClusters == nil {
		return false
	}
	for _, c := range s.DispatchingOnClusters.ClusterNames {
		if c == cluster {
			return true
		}
	}
	return false
}
