package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/fleetgate/fleetgate/propagate/names"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	workv1alpha2 "github.com/fleetgate/fleetgate/apis/work/v1alpha2"
	"github.com/fleetgate/fleetgate/propagate/claim"
	"github.com/fleetgate/fleetgate/propagate/member"
	"github.com/fleetgate/fleetgate/propagate/placement"
	"github.com/fleetgate/fleetgate/propagate/plan"
)

// sync reconciles one template. Decisions and host writes happen here; member writes are handed to
// the clusters' queues (dispatch), whose outcomes bring the template back.
func (c *Controller) sync(ctx context.Context, key Key) error {
	k := c.kinds.get(key.Kind)
	switch {
	case k == nil && c.kinds.settled(key.Kind):
		c.waiters.release(key, "")
		return nil // never a template (or not served: objects of it cannot exist)
	case k == nil || !k.informer.HasSynced():
		c.park(key) // queued again once its kind is watched and its cache filled
		return nil
	}
	obj, ok := k.get(key)
	if want := c.waiters.oldest(key); !ok || want != "" && newer(want, obj.GetResourceVersion()) {
		// The informer may lag behind a template the write pipeline just wrote: take what the
		// pipeline committed, or else ask the host. (The committed object can be newer than the
		// host's only if it was deleted since; a claimed template carries fleetgate's finalizer, so
		// its deletion waits for a pass over the deleting object, which the informer brings.)
		if f := c.waiters.committed(key, want); want != "" && f != nil && (!ok || newer(f.GetResourceVersion(), obj.GetResourceVersion())) {
			obj = f
		} else {
			live, err := c.resource(k, key.Namespace).Get(ctx, key.Name, metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(err):
				obj = nil
			case err != nil:
				return fmt.Errorf("read template %s: %w", key, err)
			default:
				obj = live
			}
		}
	}
	var err error
	switch {
	case k.isNamespace():
		err = c.syncNamespace(ctx, key, obj)
	case obj == nil:
		err = c.syncGone(ctx, key, k)
	case obj.GetDeletionTimestamp() != nil:
		err = c.syncDeleting(ctx, key, k, obj)
	default:
		return c.syncTemplate(ctx, key, k, obj) // propagate releases the waiters
	}
	if err == nil {
		c.waiters.release(key, "") // nothing to dispatch: nobody needs to wait
	}
	return err
}

// park keeps key until its kind is watched and its informer synced, asking for the kind to be
// watched. It re-checks after parking: the kind may have been settled meanwhile, whose parked keys
// were queued (or dropped) before key was parked.
func (c *Controller) park(key Key) {
	c.kinds.park(key)
	c.requestKind(key.Kind)
	if k := c.kinds.get(key.Kind); k != nil && k.informer.HasSynced() || c.kinds.settled(key.Kind) {
		for _, parked := range c.kinds.unpark(key.Kind) {
			c.queue.Add(parked)
		}
	}
}

func (c *Controller) resource(k *kind, namespace string) dynamic.ResourceInterface {
	if k.namespaced {
		return c.opts.Host.Resource(k.gvr).Namespace(namespace)
	}
	return c.opts.Host.Resource(k.gvr)
}

// syncTemplate handles a live template: claimed (or required by a workload) → propagated;
// otherwise released.
func (c *Controller) syncTemplate(ctx context.Context, key Key, k *kind, obj *unstructured.Unstructured) error {
	return c.syncTemplateFrom(ctx, key, k, obj, c.binding(k, key), false)
}

// syncTemplateFrom is syncTemplate with the binding cur; verified says obj and cur were read from
// the host just now (not from caches that may lag), as every decision to delete a copy requires.
func (c *Controller) syncTemplateFrom(ctx context.Context, key Key, k *kind, obj *unstructured.Unstructured, cur *workv1alpha2.ResourceBinding, verified bool) error {
	var previous []workv1alpha2.TargetCluster
	if cur != nil {
		previous = cur.Spec.Clusters
	} else {
		// Not bound yet: where this process applied it is the placement to keep.
		for _, cl := range holders(nil, c.tracker.snapshot(key)) {
			previous = append(previous, workv1alpha2.TargetCluster{Name: cl})
		}
	}
	ns := obj.GetNamespace()
	p := plan.Compute(plan.Input{
		Template:                   obj,
		PropagationPolicies:        c.cache.PropagationPolicies(ns),
		ClusterPropagationPolicies: c.cache.ClusterPropagationPolicies(),
		OverridePolicies:           c.cache.OverridePolicies(ns),
		ClusterOverridePolicies:    c.cache.ClusterOverridePolicies(),
		Clusters:                   c.cache.Clusters(),
		Previous:                   previous,
	})
	c.trackDependencies(ctx, key, obj, p)
	required, requiredOverwrite := c.requiredBy(key, cur)
	if !p.Claimed() && len(required) == 0 {
		return c.release(ctx, key, k, obj, cur, p)
	}
	updated, err := c.recordClaim(ctx, k, obj, p.Claim.Ref, p.Claimed())
	if err != nil {
		return err
	}
	if updated == nil {
		c.waiters.release(key, "") // gone meanwhile
		return nil
	}
	if p.Claimed() && p.Claim.Changed {
		c.recorder.Event(obj, corev1.EventTypeNormal, ReasonClaimed, p.Claim.Message)
	}
	obj = updated
	conflict := policyv1alpha1.ConflictAbort
	if p.Claimed() {
		conflict = p.Spec.ConflictResolution
	} else if requiredOverwrite {
		conflict = policyv1alpha1.ConflictOverwrite
	}
	if len(required) > 0 {
		p = c.withDependencyTargets(obj, p, required)
	}
	return c.propagate(ctx, key, k, obj, p, cur, required, conflict, verified)
}

// reverify reconciles key again from the template and binding as the host holds them now.
func (c *Controller) reverify(ctx context.Context, key Key, k *kind) error {
	obj, err := c.resource(k, key.Namespace).Get(ctx, key.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		c.queue.Add(key) // gone: the next pass removes its copies everywhere
		return nil
	}
	if err != nil {
		return fmt.Errorf("read template %s: %w", key, err)
	}
	cur, err := c.liveBinding(ctx, k, key)
	if err != nil {
		return err
	}
	if obj.GetDeletionTimestamp() != nil {
		return c.syncDeleting(ctx, key, k, obj)
	}
	return c.syncTemplateFrom(ctx, key, k, obj, cur, true)
}

// pass is the bookkeeping of one propagate call.
type pass struct {
	key       Key
	k         *kind
	obj       *unstructured.Unstructured
	ref       string
	spec      *policyv1alpha1.PropagationSpec // the claiming policy's; nil for a dependency only
	conflict  policyv1alpha1.ConflictResolution
	record    map[string]string // what the binding records as applied
	next      map[string]string // what it will record
	slots     map[string]slot
	results   map[string]result
	pending   bool              // some cluster has not answered yet
	pendingOn map[string]string // the clusters asked to apply that have not answered yet: the copy's hash
}

// propagate makes every target hold the template's current copy and the clusters that are no
// longer targets lose theirs; once every cluster answered, it writes the binding.
func (c *Controller) propagate(ctx context.Context, key Key, k *kind, obj *unstructured.Unstructured, p *plan.Plan,
	cur *workv1alpha2.ResourceBinding, required []workv1alpha2.BindingSnapshot, conflict policyv1alpha1.ConflictResolution, verified bool) error {
	ps := &pass{key: key, k: k, obj: obj, ref: member.TemplateRef(obj), conflict: conflict,
		record: map[string]string{}, slots: c.tracker.snapshot(key), results: map[string]result{}}
	if p.Claimed() {
		ps.spec = p.Spec
	}
	if cur != nil {
		ps.record = readRecord(cur.Annotations)
	}
	ps.next = maps.Clone(ps.record)
	targets := p.Targets
	if p.SchedulingErr != nil && cur != nil {
		// Keep the last placement and leave its copies alone.
		targets = cur.Spec.Clusters
		for _, it := range cur.Status.AggregatedStatus {
			ps.results[it.ClusterName] = result{applied: it.Applied, message: it.AppliedMessage}
		}
	} else {
		for _, t := range targets {
			c.applyTo(ps, t.Name, p.Clusters[t.Name])
		}
	}
	if !verified && c.wouldRemove(ps, cur, targets) {
		// The cached binding or template may lag behind the host (a placement the cache does
		// not show yet): deletes are decided only from what the host holds now.
		return c.reverify(ctx, key, k)
	}
	c.removeFromOthers(ps, cur, targets)
	// What Handoff waits for: the Ready clusters asked to apply, each released by its answer.
	c.waiters.await(key, obj.GetResourceVersion(), c.readyOf(ps.pendingOn), func(cluster, hash string) bool {
		return c.tracker.answered(key, cluster, hash)
	})
	if ps.pending {
		return nil // the clusters' outcomes bring the template back
	}
	overrides, err := overrideAnnotationValues(p)
	if err != nil {
		return fmt.Errorf("record applied overrides of %s: %w", key, err)
	}
	overrides[AnnotationAppliedHashes] = encodeRecord(ps.next)
	replicas, _, _ := placement.ReplicaRequirements(obj)
	// behind: a copy written just now has not come back through its member's watch. Its event
	// brings the template back, and that pass writes the binding's status and the template's
	// once, with the copy as the member holds it, instead of now and again then; the binding's
	// spec and record are written now.
	states, complete, behind := c.memberStates(ps, targets)
	if err := c.writeBinding(ctx, k, obj, cur, desiredBinding{
		spec:        bindingSpec(obj, ps.spec, targets, required, replicas, conflict),
		annotations: overrides,
		status: statusInput{
			targets: targets, results: ps.results, members: states, schedErr: p.SchedulingErr,
			rescheduled: cur == nil || !slices.Equal(clusterNames(cur.Spec.Clusters), clusterNames(targets)),
			now:         metav1.NewTime(c.opts.Clock.Now()),
		},
		specOnly: behind,
	}); err != nil {
		return err
	}
	if !complete || behind {
		return nil // a member's watch has not listed yet: the aggregate would drop its share
	}
	return c.writeTemplateStatus(ctx, k, obj, states)
}

// readyOf returns the entries of clusters whose cluster is Ready.
func (c *Controller) readyOf(clusters map[string]string) map[string]string {
	out := map[string]string{}
	for name, v := range clusters {
		if cl, ok := c.cache.Cluster(name); ok && clusterv1alpha1.IsReady(cl) {
			out[name] = v
		}
	}
	return out
}

// applyTo decides about one target: nothing to do (its copy is current, or dispatching to it is
// suspended), a known outcome to report, or a write to dispatch.
func (c *Controller) applyTo(ps *pass, cluster string, cp *plan.ClusterPlan) {
	switch {
	case cp == nil:
		return
	case cp.Err != nil:
		ps.results[cluster] = result{message: cp.Err.Error()} // an override failed; it names the policy
		return
	}
	h := hashObject(cp.Object)
	s := ps.slots[cluster]
	overwrite := ps.conflict == policyv1alpha1.ConflictOverwrite
	recorded, has := ps.record[cluster]
	trusted := s.done.ok() && s.done.action == actApply && s.done.hash == h || has && recorded == h && !s.stale
	written := ""
	if s.done.ok() && s.done.action == actApply {
		written = s.done.written
	}
	if trusted && !suspended(ps.spec, cluster) && c.drifted(cluster, ps.k, cp.Object, written) {
		// Edited or deleted in the member: what was applied is not there any more.
		c.tracker.markStale(ps.key, cluster)
		s.done, s.stale, s.holds = nil, true, false
	}
	switch {
	case suspended(ps.spec, cluster):
		ps.results[cluster] = result{applied: recorded == h}
		if recorded != h {
			ps.results[cluster] = result{message: suspendedMessage}
		}
	case s.done != nil && s.done.action == actApply && s.done.hash == h && (s.done.ok() || s.done.overwrite == overwrite):
		if s.done.ok() {
			ps.next[cluster] = h
			ps.results[cluster] = result{applied: true}
		} else {
			ps.results[cluster] = result{message: s.done.message()}
		}
	case has && recorded == h && !s.stale && (s.done == nil || s.done.action == actApply):
		ps.results[cluster] = result{applied: true}
	default:
		// A managed copy is there, or nothing is in the way: no need to read it first.
		known := (has || s.holds || c.opts.Clock.Now().Before(s.clearUntil)) && !s.stale
		c.dispatch(ps.key, cluster, &work{action: actApply, gvr: ps.k.gvr, namespace: ps.obj.GetNamespace(), name: ps.obj.GetName(),
			ref: ps.ref, object: cp.Object, hash: h, overwrite: overwrite, known: known})
		ps.pending = true
		if ps.pendingOn == nil {
			ps.pendingOn = map[string]string{}
		}
		ps.pendingOn[cluster] = h
	}
}

// wouldRemove reports whether removeFromOthers would ask a cluster to remove a copy.
func (c *Controller) wouldRemove(ps *pass, cur *workv1alpha2.ResourceBinding, targets []workv1alpha2.TargetCluster) bool {
	for _, h := range holders(cur, ps.slots) {
		if slices.ContainsFunc(targets, func(t workv1alpha2.TargetCluster) bool { return t.Name == h }) || suspended(ps.spec, h) {
			continue
		}
		if _, exists := c.cache.Cluster(h); !exists {
			continue
		}
		if s := ps.slots[h]; s.done.ok() && (s.done.action == actDelete || s.done.action == actRelease) {
			continue // removed already
		}
		return true
	}
	return false
}

// removeFromOthers removes the copies from the clusters that may hold one but are not targets
// (unless dispatching to them is suspended); clusters that no longer exist are forgotten.
func (c *Controller) removeFromOthers(ps *pass, cur *workv1alpha2.ResourceBinding, targets []workv1alpha2.TargetCluster) {
	preserve := ps.spec != nil && ptr.Deref(ps.spec.PreserveResourcesOnDeletion, false)
	for _, h := range holders(cur, ps.slots) {
		if slices.ContainsFunc(targets, func(t workv1alpha2.TargetCluster) bool { return t.Name == h }) {
			continue
		}
		if _, exists := c.cache.Cluster(h); !exists {
			delete(ps.next, h)
			continue
		}
		if suspended(ps.spec, h) {
			continue
		}
		switch done, failed := c.removeCopy(ps.key, h, ps.obj, ps.k, ps.ref, preserve, ps.slots[h]); {
		case done:
			delete(ps.next, h)
		case !failed:
			ps.pending = true
		}
	}
}

// removeCopy asks cluster h to delete (or, preserving, to release) the template's copy. done: it
// is gone (or released); failed: the last attempt failed, and the cluster's queue retries it.
func (c *Controller) removeCopy(key Key, h string, obj *unstructured.Unstructured, k *kind, ref string, preserve bool, s slot) (done, failed bool) {
	act := actDelete
	if preserve {
		act = actRelease
	}
	w := &work{action: act, gvr: k.gvr, namespace: key.Namespace, name: key.Name, ref: ref}
	switch {
	case s.done.matches(w) && s.done.ok():
		return true, false
	case s.done.matches(w):
		if obj != nil && c.tracker.setReported(key, h, s.done.message()) {
			c.recorder.Event(obj, corev1.EventTypeWarning, ReasonDeleteFailed, fmt.Sprintf("Failed to delete from cluster %s: %s", h, s.done.message()))
		}
		c.tracker.setWant(key, h, w)
		return false, true
	}
	c.dispatch(key, h, w)
	return false, false
}

// holders are the clusters that may hold a copy of the template: the binding's targets and
// record, and what this process applied there or found in a sweep. Sorted.
func holders(cur *workv1alpha2.ResourceBinding, slots map[string]slot) []string {
	set := map[string]bool{}
	if cur != nil {
		for _, t := range cur.Spec.Clusters {
			set[t.Name] = true
		}
		for cl := range readRecord(cur.Annotations) {
			set[cl] = true
		}
	}
	for cl, s := range slots {
		if s.holds || s.want != nil || s.done != nil && s.done.action == actApply {
			set[cl] = true
		}
	}
	out := make([]string, 0, len(set))
	for cl := range set {
		out = append(out, cl)
	}
	sort.Strings(out)
	return out
}

// dispatch publishes w for key in cluster and queues it there (unless w was done already).
func (c *Controller) dispatch(key Key, cluster string, w *work) {
	if !c.tracker.setWant(key, cluster, w) {
		return
	}
	if d := c.dispatcher(cluster); d != nil {
		d.queue.Add(clusterItem{Key: key})
	}
}

// suspended reports whether spec suspends dispatching to cluster.
func suspended(spec *policyv1alpha1.PropagationSpec, cluster string) bool {
	if spec == nil || spec.Suspension == nil {
		return false
	}
	if ptr.Deref(spec.Suspension.Dispatching, false) {
		return true
	}
	s := spec.Suspension.DispatchingOnClusters
	return s != nil && slices.Contains(s.ClusterNames, cluster)
}

// recordClaim records ref as the template's claim and adds (finalizer) or removes fleetgate's
// finalizer, in one merge patch guarded by the resourceVersion, only when something changes. It
// returns the template as it now is, nil when it is gone.
func (c *Controller) recordClaim(ctx context.Context, k *kind, obj *unstructured.Unstructured, ref claim.Ref, finalizer bool) (*unstructured.Unstructured, error) {
	next := obj.DeepCopy()
	changed := claim.Set(next, ref)
	fins := next.GetFinalizers()
	has := slices.Contains(fins, names.Finalizer)
	switch {
	case finalizer && !has:
		fins, changed = append(fins, names.Finalizer), true
	case !finalizer && has:
		fins, changed = slices.DeleteFunc(fins, func(f string) bool { return f == names.Finalizer }), true
	}
	if !changed {
		return obj, nil
	}
	ann := map[string]any{}
	for _, a := range []string{policyv1alpha1.PropagationPolicyNamespaceAnnotation, policyv1alpha1.PropagationPolicyNameAnnotation,
		policyv1alpha1.ClusterPropagationPolicyAnnotation} {
		if v, ok := next.GetAnnotations()[a]; ok {
			ann[a] = v
		} else {
			ann[a] = nil
		}
	}
	var finalizers any = fins
	if len(fins) == 0 {
		finalizers = nil
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"resourceVersion": obj.GetResourceVersion(), "annotations": ann, "finalizers": finalizers,
	}})
	if err != nil {
		return nil, err
	}
	out, err := c.resource(k, obj.GetNamespace()).Patch(ctx, obj.GetName(), types.MergePatchType, patch, metav1.PatchOptions{FieldManager: names.FieldManager})
	if apierrors.IsNotFound(err) {
		return nil, nil // gone meanwhile: its deletion brings the key back
	}
	if err != nil {
		return nil, fmt.Errorf("record claim %s on %s %s: %w", ref, obj.GetKind(), KeyFor(k.gk(), obj), err)
	}
	klog.FromContext(ctx).V(2).Info("Recorded claim", "template", KeyFor(k.gk(), obj), "claim", ref.String(), "finalizer", finalizer)
	return out, nil
}
