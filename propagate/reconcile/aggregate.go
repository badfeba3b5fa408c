package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	workv1alpha2 "github.com/fleetgate/fleetgate/apis/work/v1alpha2"
	"github.com/fleetgate/fleetgate/propagate/names"
	"github.com/fleetgate/fleetgate/propagate/status"
)

// memberState is what one target's watched copy says: its status, its health, and whether it
// counts in the template's aggregated status.
type memberState struct {
	status   map[string]any // nil: not known
	health   workv1alpha2.ResourceHealth
	counted  bool // a Ready cluster whose copy is watched: its share counts
	observed bool // the copy is current and its controller has observed it
}

// memberStates reads the targets' copies from the member watches. A target that is not Ready, or
// whose copy is missing, does not count and its health is Unknown. A Ready target whose watch has
// not synced yet is left out (the binding keeps what it said) and makes the states incomplete: the
// watch's first list brings the template back.
//
// behind reports that a copy this process wrote has not come back through its member's watch yet:
// the watch's event brings the template back, and the pass then sees the copy as it is.
func (c *Controller) memberStates(ps *pass, targets []workv1alpha2.TargetCluster) (_ map[string]memberState, complete, behind bool) {
	out := make(map[string]memberState, len(targets))
	complete = true
	for _, t := range targets {
		st := memberState{health: workv1alpha2.ResourceUnknown}
		cl, ok := c.cache.Cluster(t.Name)
		if !ok || !clusterv1alpha1.IsReady(cl) {
			out[t.Name] = st
			continue
		}
		d := c.dispatcher(t.Name)
		if d == nil || !d.watchesCopies(ps.k.gk()) {
			complete = false
			continue
		}
		w := d.watchedCopy(ps.k.gk(), ps.obj.GetNamespace(), ps.obj.GetName())
		var live *unstructured.Unstructured
		if w != nil {
			live = w.object()
		}
		if live == nil {
			if sl := ps.slots[t.Name]; sl.done.ok() && sl.done.action == actApply && sl.done.written != "" {
				behind = true
				c.awaitWatch(ps, d, t.Name, w)
			}
			out[t.Name] = st
			continue
		}
		st.status, _, _ = unstructured.NestedMap(live.Object, "status")
		st.counted = true
		// What this pass (or the last) wrote may not have come back through the watch yet: the
		// watched copy is then the one before, whose controller may well have observed it, but
		// not what the template now asks. Not observed until the watch catches up (its event
		// brings the template back).
		written := ""
		if sl := ps.slots[t.Name]; sl.done.ok() && sl.done.action == actApply {
			written = sl.done.written
		}
		late := written != "" && newer(written, live.GetResourceVersion())
		if late {
			c.awaitWatch(ps, d, t.Name, w)
		}
		behind = behind || late
		st.observed = ps.results[t.Name].applied && !late && generationObserved(live)
		st.health = healthOf(live, st.observed)
		out[t.Name] = st
	}
	return out, complete, behind
}

// awaitWatch leaves the status of ps's template to the pass that cluster's watch event of
// fleetgate's write starts (saw is the copy as this pass read it, nil for none): the event may not
// be skipped as fleetgate's own. An event that came between this pass's read and now was skipped
// already: the store then shows another copy than saw, and the template is queued again here.
func (c *Controller) awaitWatch(ps *pass, d *dispatcher, cluster string, saw *watched) {
	key := Key{Kind: ps.k.gk(), Namespace: ps.obj.GetNamespace(), Name: ps.obj.GetName()}
	c.tracker.awaitWatch(key, cluster)
	now := d.watchedCopy(ps.k.gk(), ps.obj.GetNamespace(), ps.obj.GetName())
	if now != saw && (now == nil || saw == nil || now.ResourceVersion != saw.ResourceVersion) {
		c.tracker.takeAwaitingWatch(key, cluster)
		c.queue.Add(key)
	}
}

// generationObserved reports whether a copy's controller has seen its current spec: kinds without
// metadata.generation or status.observedGeneration count as observed.
func generationObserved(live *unstructured.Unstructured) bool {
	observed, found, _ := unstructured.NestedInt64(live.Object, "status", "observedGeneration")
	return !found || live.GetGeneration() == 0 || observed >= live.GetGeneration()
}

// healthOf interprets a copy's health as Karmada's default interpreter does for the common kinds;
// other kinds are Healthy once they exist.
func healthOf(live *unstructured.Unstructured, observed bool) workv1alpha2.ResourceHealth {
	n := func(path ...string) int64 { v, _, _ := unstructured.NestedInt64(live.Object, path...); return v }
	spec := n("spec", "replicas")
	healthy := true
	switch live.GroupVersionKind().GroupKind().String() {
	case "Deployment.apps":
		healthy = observed && n("status", "updatedReplicas") == spec && n("status", "availableReplicas") >= spec
	case "StatefulSet.apps", "ReplicaSet.apps":
		healthy = observed && n("status", "readyReplicas") >= spec
	case "DaemonSet.apps":
		healthy = observed && n("status", "numberAvailable") >= n("status", "desiredNumberScheduled")
	case "Pod":
		phase, _, _ := unstructured.NestedString(live.Object, "status", "phase")
		healthy = phase == "Running" || phase == "Succeeded"
	case "PersistentVolumeClaim":
		phase, _, _ := unstructured.NestedString(live.Object, "status", "phase")
		healthy = phase == "Bound"
	}
	if healthy {
		return workv1alpha2.ResourceHealthy
	}
	return workv1alpha2.ResourceUnhealthy
}

// rawStatus is a member status as the binding records it.
func rawStatus(s map[string]any) *runtime.RawExtension {
	if s == nil {
		return nil
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil
	}
	return &runtime.RawExtension{Raw: b}
}

// writeTemplateStatus writes the aggregate of the counted members' status into the template's
// status subresource, for the kinds that have one, when it differs from what the template says.
func (c *Controller) writeTemplateStatus(ctx context.Context, k *kind, obj *unstructured.Unstructured, states map[string]memberState) error {
	agg := status.For(k.gk())
	if agg == nil {
		return nil
	}
	var members []status.Member
	for cluster, st := range states {
		if st.counted {
			members = append(members, status.Member{Cluster: cluster, Status: st.status, Observed: st.observed})
		}
	}
	slices.SortFunc(members, func(a, b status.Member) int { return strings.Compare(a.Cluster, b.Cluster) })
	prev, _, _ := unstructured.NestedMap(obj.Object, "status")
	want := agg(obj.GetGeneration(), prev, members)
	if sameStatus(prev, want) {
		return nil
	}
	key := KeyFor(k.gk(), obj)
	sum, err := digest(want)
	if err != nil {
		return err
	}
	if c.statusWritten.same(key, obj.GetResourceVersion(), sum) {
		return nil // written just now: the cached template has not caught up with it yet
	}
	patch := map[string]any{}
	for f := range prev {
		patch[f] = nil // what the aggregate no longer says goes
	}
	for f, v := range want {
		patch[f] = v
	}
	body, err := json.Marshal(map[string]any{"status": patch})
	if err != nil {
		return err
	}
	out, err := c.resource(k, obj.GetNamespace()).Patch(ctx, obj.GetName(), types.MergePatchType, body,
		metav1.PatchOptions{FieldManager: names.FieldManager}, "status")
	if apierrors.IsNotFound(err) {
		return nil // gone, or the kind has no status subresource here
	}
	if err != nil {
		return fmt.Errorf("write aggregated status of %s: %w", key, err)
	}
	c.statusWritten.set(key, out.GetResourceVersion(), sum)
	return nil
}

// writtenStatuses remembers, per template, the status the reconciler wrote last and the
// resourceVersion that write left, while the template informer has not caught up with it: a pass
// over the cached template (older) that wants the same status does not write it again.
type writtenStatuses struct {
	mu sync.Mutex
	m  map[Key]writtenStatus
}

type writtenStatus struct {
	resourceVersion string
	digest          uint64
}

func (w *writtenStatuses) set(key Key, resourceVersion string, digest uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[Key]writtenStatus{}
	}
	w.m[key] = writtenStatus{resourceVersion: resourceVersion, digest: digest}
}

// same reports whether the status of digest was written at a resourceVersion newer than seen (the
// version the pass read). Once the cache has caught up the entry is dropped: the stored status
// then speaks for itself.
func (w *writtenStatuses) same(key Key, seen string, digest uint64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	e, ok := w.m[key]
	if !ok {
		return false
	}
	if !newer(e.resourceVersion, seen) {
		delete(w.m, key)
		return false
	}
	return e.digest == digest
}

// sameStatus reports whether the template's stored status already says what want says. Typed
// kinds' apiservers drop zero values their Go types mark omitempty (a Deployment's
// unavailableReplicas: 0) and write null for empty lists they do not (an HPA's currentMetrics), so
// zero values count as absent on both sides; otherwise every pass would write the same status again.
func sameStatus(stored, want map[string]any) bool {
	return equality.Semantic.DeepEqual(withoutZeros(normalised(stored)), withoutZeros(normalised(want)))
}

// withoutZeros returns v with the map entries whose value is a zero (null, 0, "", false, or an
// empty list or map, after the same is done inside it) left out. List elements stay where they
// are: their positions mean something.
func withoutZeros(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			if e = withoutZeros(e); !isZero(e) {
				out[k] = e
			}
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = withoutZeros(e)
		}
		return out
	}
	return v
}

func isZero(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case float64:
		return t == 0
	case string:
		return t == ""
	case bool:
		return !t
	case map[string]any:
		return len(t) == 0
	case []any:
		return len(t) == 0
	}
	return false
}

// normalised round-trips v through JSON, so int64 and float64 numbers compare equal.
func normalised(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

// drop forgets key (its template is gone).
func (w *writtenStatuses) drop(key Key) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.m, key)
}
