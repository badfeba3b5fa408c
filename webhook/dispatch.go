package webhook

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/klog/v2"

	"github.com/fleetgate/fleetgate/propagate/claim"
)

// Dispatcher is the reconciler as the pipeline sees it: it takes a committed template and waits,
// within ctx, until the template's Ready target clusters hold its copy. The reconciler's
// per-member queues are the only writers to members; the pipeline never writes to them itself.
type Dispatcher interface {
	Dispatch(ctx context.Context, kind schema.GroupKind, namespace, name, resourceVersion string, checked map[string]bool) error
}

// dispatch hands the committed template to the reconciler and waits for it, bounded by timeout, so
// that the members already have their copies when the client's write returns. Whatever takes longer
// is finished by the reconciler after the client got its answer.
type dispatch struct {
	handlesWrites
	dispatcher Dispatcher
	timeout    time.Duration
}

var _ MutationInterface = dispatch{}

func (d dispatch) Admit(ctx context.Context, a *Attributes) error {
	if a.DryRun || a.Committed == nil {
		return nil
	}
	gvk := a.Committed.GroupVersionKind()
	if !claim.Propagatable(gvk, "") {
		return nil // policies and other kinds that are never templates
	}
	// What member dry-run checked holds for the committed object only if it has the same name
	// (generateName gives the real write another one).
	checked := a.Checked
	if a.Resolved == nil || a.Resolved.GetName() != a.Committed.GetName() {
		checked = nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.timeout)
	defer cancel()
	err := d.dispatcher.Dispatch(ctx, gvk.GroupKind(), a.Committed.GetNamespace(), a.Committed.GetName(), a.Committed.GetResourceVersion(), checked)
	if err != nil {
		klog.FromContext(ctx).V(2).Info("Dispatch continues in the reconciler after the write returned", "template", klog.KObj(a.Committed), "err", err)
	}
	return nil
}
