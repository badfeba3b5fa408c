package reconcile

import (
	"context"
	"reflect"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic/dynamicinformer"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/fleetgate/fleetgate/propagate/member"
)

// copyWatch watches fleetgate's copies (label fleetgate.io/managed=true) in one member, one
// informer per watched kind, through the cluster's own client (so through a Pull cluster's tunnel
// too). Its caches tell the template worker whether a copy still holds what fleetgate applied;
// its events send the template back when a copy is edited or deleted in the member (drift).
type copyWatch struct {
	cluster string
	ctx     context.Context
	cancel  context.CancelFunc

	mu        sync.Mutex
	factory   dynamicinformer.DynamicSharedInformerFactory // nil until the member's client is known
	informers map[schema.GroupKind]toolscache.SharedIndexInformer
}

func newCopyWatch(ctx context.Context, cluster string) *copyWatch {
	ctx, cancel := context.WithCancel(ctx)
	return &copyWatch{cluster: cluster, ctx: ctx, cancel: cancel, informers: map[schema.GroupKind]toolscache.SharedIndexInformer{}}
}

// ensureCopyWatch starts the informers of every watched kind that has none yet. It does nothing until the
// member's client can be had (it is called again at every sweep).
func (c *Controller) ensureCopyWatch(d *dispatcher) {
	w := d.copies
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ctx.Err() != nil {
		return
	}
	if w.factory == nil {
		dyn, err := c.opts.Members.Dynamic(w.ctx, w.cluster)
		if err != nil {
			klog.FromContext(w.ctx).V(2).Info("Copies not watched yet", "cluster", w.cluster, "err", err)
			return
		}
		w.factory = dynamicinformer.NewFilteredDynamicSharedInformerFactory(dyn, 0, metav1.NamespaceAll, func(o *metav1.ListOptions) {
			o.LabelSelector = member.LabelManaged + "=true"
		})
	}
	started := false
	for _, k := range c.kinds.all() {
		if w.informers[k.gk()] != nil {
			continue
		}
		inf := w.factory.ForResource(k.gvr).Informer()
		_ = inf.SetTransform((&copyCodec{}).transform)
		_, _ = inf.AddEventHandler(c.copyHandler(d, k))
		w.informers[k.gk()] = inf
		started = true
		// Passes that ran before this watch had listed left the binding's view of this member as
		// it was and held the template's status back: look again once it has.
		go func(gk schema.GroupKind) {
			if toolscache.WaitForCacheSync(w.ctx.Done(), inf.HasSynced) {
				for _, key := range c.propagating() {
					if key.Kind == gk {
						c.queue.Add(key)
					}
				}
			}
		}(k.gk())
	}
	if started {
		w.factory.Start(w.ctx.Done())
	}
}

// watchCopies starts the watch of kind gk's copies in every member.
func (c *Controller) watchCopies() {
	c.mu.Lock()
	ds := make([]*dispatcher, 0, len(c.dispatchers))
	for _, d := range c.dispatchers {
		ds = append(ds, d)
	}
	c.mu.Unlock()
	for _, d := range ds {
		c.ensureCopyWatch(d)
	}
}

// copyHandler sends a template back to the template queue when its copy in d's member changed in a
// way fleetgate did not cause (an edit, a deletion) or its status changed (the binding and the
// template's aggregated status follow it). The events of fleetgate's own writes are skipped (the
// copy is at the resourceVersion fleetgate's last write returned).
func (c *Controller) copyHandler(d *dispatcher, k *kind) toolscache.ResourceEventHandler {
	enqueue := func(obj any, ownWriteCheck bool) {
		w, ok := untomb(obj).(*watched)
		if !ok {
			return
		}
		gvk, ns, name, ok := parseTemplateRef(w.template)
		if !ok || gvk.GroupKind() != k.gk() {
			return
		}
		key := Key{Kind: k.gk(), Namespace: ns, Name: name}
		// fleetgate's own write coming back needs no pass, unless one waits for it (a pass that
		// found the watch behind left the status to it).
		if ownWriteCheck && c.tracker.wroteVersion(key, d.name, w.ResourceVersion) && !c.tracker.takeAwaitingWatch(key, d.name) {
			return
		}
		c.queue.Add(key)
	}
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { enqueue(obj, true) },
		UpdateFunc: func(old, cur any) {
			o, ok1 := old.(*watched)
			n, ok2 := cur.(*watched)
			if !ok1 || !ok2 || copyChanged(o, n) {
				enqueue(cur, true)
			}
		},
		DeleteFunc: func(obj any) { enqueue(obj, false) },
	}
}

// drifted reports whether cluster's copy of the template, as the member watch last saw it, no
// longer holds desired: it is gone, or a field fleetgate sets has another value. Fields fleetgate
// does not set (status, what the member defaults, what other managers add) are not drift. It is
// false when the member's copies are not watched (yet), or the watch has not caught up with
// fleetgate's last write there (written, its resourceVersion; "" for none known): until a write's
// own event arrives, the watch still shows the copy as it was before, or not at all.
func (c *Controller) drifted(cluster string, k *kind, desired *unstructured.Unstructured, written string) bool {
	d := c.dispatcher(cluster)
	if d == nil {
		return false
	}
	inf := d.copyInformer(k.gk())
	if inf == nil || !inf.HasSynced() {
		return false
	}
	live := d.watchedCopy(k.gk(), desired.GetNamespace(), desired.GetName())
	switch {
	case live == nil:
		return written == "" || !newer(written, inf.LastSyncResourceVersion())
	case written != "" && newer(written, live.ResourceVersion):
		return false // fleetgate's write has not come back through the watch yet
	case live.DeletionTimestamp != nil:
		return false // on its way out: its deletion brings the template back
	}
	obj := live.object()
	return obj == nil || !contains(obj.Object, retainMemberFields(desired, live).Object)
}

// watchedCopy returns the member's copy of obj as d's watch last saw it (nil when unknown).
func (d *dispatcher) watchedCopy(gk schema.GroupKind, namespace, name string) *watched {
	inf := d.copyInformer(gk)
	if inf == nil {
		return nil
	}
	key := name
	if namespace != "" {
		key = namespace + "/" + name
	}
	o, exists, err := inf.GetStore().GetByKey(key)
	if err != nil || !exists {
		return nil
	}
	w, _ := o.(*watched)
	return w
}

// RetainReplicasLabel on a template leaves a workload's spec.replicas in each member to the member
// (a member HPA scales it), as Karmada's label of that name does.
const RetainReplicasLabel = "resourcetemplate.karmada.io/retain-replicas"

// retainMemberFields returns desired with the fields the member owns taken from live: spec.replicas
// when the template asks for it with RetainReplicasLabel. desired is not modified.
func retainMemberFields(desired *unstructured.Unstructured, live *watched) *unstructured.Unstructured {
	if live == nil || desired.GetLabels()[RetainReplicasLabel] != "true" {
		return desired
	}
	obj := live.object()
	if obj == nil {
		return desired
	}
	replicas, found, err := unstructured.NestedFieldNoCopy(obj.Object, "spec", "replicas")
	if err != nil || !found {
		return desired
	}
	out := desired.DeepCopy()
	_ = unstructured.SetNestedField(out.Object, replicas, "spec", "replicas")
	return out
}

// contains reports whether live holds every value of desired: maps key by key, lists element by
// element (same length), other values equal. A nil, empty map or empty list in desired matches
// anything, since servers drop empty values.
func contains(live, desired any) bool {
	switch d := desired.(type) {
	case nil:
		return true
	case map[string]any:
		if len(d) == 0 {
			return true
		}
		l, ok := live.(map[string]any)
		if !ok {
			return false
		}
		for k, dv := range d {
			if !contains(l[k], dv) {
				return false
			}
		}
		return true
	case []any:
		if len(d) == 0 {
			return true
		}
		l, ok := live.([]any)
		if !ok || len(l) != len(d) {
			return false
		}
		for i := range d {
			if !contains(l[i], d[i]) {
				return false
			}
		}
		return true
	case int64:
		if f, ok := live.(float64); ok {
			return float64(d) == f
		}
	case float64:
		if i, ok := live.(int64); ok {
			return float64(i) == d
		}
	}
	return reflect.DeepEqual(live, desired)
}

// watchesCopies reports whether d's watch of kind gk has its initial list.
func (d *dispatcher) watchesCopies(gk schema.GroupKind) bool {
	inf := d.copyInformer(gk)
	return inf != nil && inf.HasSynced()
}

// copyInformer returns d's informer of kind gk's copies, nil when there is none (yet).
func (d *dispatcher) copyInformer(gk schema.GroupKind) toolscache.SharedIndexInformer {
	d.copies.mu.Lock()
	defer d.copies.mu.Unlock()
	return d.copies.informers[gk]
}
