package pipeline

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/klog/v2"

	"github.com/fleetgate/fleetgate/propagate/claim"
	"github.com/fleetgate/fleetgate/propagate/reconcile"
)

// Reconciler is the reconciler as the pipeline sees it (reconcile.Controller): it takes a committed
// template and waits, within ctx, until the template's Ready target clusters hold its copy. Its
// per-member queues dispatch the copies and are the only writers to members; the pipeline never
// writes copies itself.
type Reconciler interface {
	Handoff(ctx context.Context, key reconcile.Key, committed *unstructured.Unstructured, checked map[string]bool) error
	// Checked is told, before the commit, where member dry-run found nothing in the way.
	Checked(key reconcile.Key, checked map[string]bool)
}

// handoff gives the committed template to the reconciler and waits for it, bounded by timeout (and
// not cut short when the client goes away), so that the members already have their copies when
// the client's write returns. Whatever takes longer is finished by the reconciler after the client
// got its answer: the handoff never fails the write. Nothing is handed over for a client's dry run,
// or for kinds that are never templates (the policies).
type handoff struct {
	reconciler Reconciler
	timeout    time.Duration
}

func (h handoff) Handoff(ctx context.Context, a *Attributes) {
	if a.DryRun || a.Committed == nil || h.reconciler == nil {
		return
	}
	gvk := a.Committed.GroupVersionKind()
	if !claim.Propagatable(gvk, "") {
		return
	}
	// What member dry-run checked holds for the committed object only if it has the same name
	// (generateName gives the real write another one).
	checked := a.Checked
	if a.Resolved == nil || a.Resolved.GetName() != a.Committed.GetName() {
		checked = nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.timeout)
	defer cancel()
	key := reconcile.Key{Kind: gvk.GroupKind(), Namespace: a.Committed.GetNamespace(), Name: a.Committed.GetName()}
	if err := h.reconciler.Handoff(ctx, key, a.Committed, checked); err != nil {
		klog.FromContext(ctx).V(2).Info("The reconciler goes on with the template after the write returned", "template", klog.KObj(a.Committed), "err", err)
	}
}

// checked tells the reconciler, before the commit, where member dry-run found nothing in the way of
// the copy, so that a pass the template informer starts before the handoff need not read first
// either. Only for a name known before the commit (not generateName).
func (h handoff) checked(a *Attributes) {
	if a.DryRun || h.reconciler == nil || len(a.Checked) == 0 || a.Resolved == nil || a.Resolved.GetName() == "" {
		return
	}
	gvk := a.Resolved.GroupVersionKind()
	if !claim.Propagatable(gvk, "") || a.Operation == Create && a.Resolved.GetGenerateName() != "" {
		return
	}
	h.reconciler.Checked(reconcile.Key{Kind: gvk.GroupKind(), Namespace: a.Resolved.GetNamespace(), Name: a.Resolved.GetName()}, a.Checked)
}
