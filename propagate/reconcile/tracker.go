package reconcile

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// action is what a member cluster should do about one template.
type action int

const (
	// actApply server-side-applies the copy.
	actApply action = iota
	// actDelete deletes fleetgate's copy.
	actDelete
	// actRelease keeps the copy but removes fleetgate's marks from it (preserveResourcesOnDeletion).
	actRelease
	// actNamespace creates the namespace if it is missing (Namespace auto-propagation).
	actNamespace
)

// work is the desired state of one template in one member cluster. The template worker publishes
// it; a cluster worker carries it out.
type work struct {
	action    action
	gvr       schema.GroupVersionResource
	namespace string
	name      string
	// ref is the template reference (member.AnnotationTemplate) a copy must carry to be deleted.
	ref string
	// object is the copy to apply (actApply); hash is hashObject(object).
	object *unstructured.Unstructured
	hash   string
	// overwrite takes over an unmanaged object (conflictResolution Overwrite); known says a managed
	// copy is there already, so the conflict read can be skipped.
	overwrite, known bool
}

// outcome is the result of the last attempt of a work in a cluster.
type outcome struct {
	action    action
	hash      string
	overwrite bool
	err       error
	permanent bool
	// written is the resourceVersion of the copy a successful apply left in the member: the member
	// watch's event for it is fleetgate's own write, not drift.
	written string
}

func (o *outcome) ok() bool { return o != nil && o.err == nil }

// matches reports whether o is the result of doing w (or an equal work). A failure under another
// conflict resolution does not count: the new one deserves an attempt.
func (o *outcome) matches(w *work) bool {
	return o != nil && o.action == w.action && o.hash == w.hash && (o.err == nil || o.overwrite == w.overwrite)
}

func (o *outcome) message() string {
	if o == nil || o.err == nil {
		return ""
	}
	return o.err.Error()
}

// slot is what the controller knows about one template in one cluster.
type slot struct {
	want *work
	done *outcome
	// holds: a sweep found fleetgate's copy of the template in the cluster.
	holds bool
	// stale: the copy the binding records is not there (a sweep did not find it, or fleetgate
	// deleted it since): the record must not be trusted.
	stale bool
	// clearUntil: the write pipeline's member dry-run found no unmanaged object of that name in
	// the way, so a write until then need not read first. What the dry-run saw holds only for a
	// moment (and for a write that may still fail), so it is not kept.
	clearUntil time.Time
	// reported is the last failure reported as an event for deletes (applies are reported from
	// the binding's status).
	reported string
	// seq is the tracker's seq when done was recorded.
	seq uint64
	// awaitingWatch: a template pass found fleetgate's write of the copy not yet come back
	// through the member's watch and left the status to the pass that event starts; the event of
	// fleetgate's own write must then not be skipped (takeAwaitingWatch).
	awaitingWatch bool
}

// tracker is the in-memory table of slots, per template and cluster. It survives nothing: after a
// restart the binding's record and the sweeps rebuild what matters.
type tracker struct {
	mu sync.Mutex
	m  map[Key]map[string]*slot
	// seq counts the outcomes recorded (finish); a slot's seq is the count at its last one, so a
	// sweep can tell an outcome newer than its listing (whose absence from the list says nothing).
	seq uint64
}

func newTracker() *tracker { return &tracker{m: map[Key]map[string]*slot{}} }

func (t *tracker) slotLocked(k Key, cluster string) *slot {
	byCluster := t.m[k]
	if byCluster == nil {
		byCluster = map[string]*slot{}
		t.m[k] = byCluster
	}
	s := byCluster[cluster]
	if s == nil {
		s = &slot{}
		byCluster[cluster] = s
	}
	return s
}

// snapshot returns a copy of the slots of k.
func (t *tracker) snapshot(k Key) map[string]slot {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]slot, len(t.m[k]))
	for c, s := range t.m[k] {
		out[c] = *s
	}
	return out
}

// setWant publishes w for k in cluster and reports whether the cluster must be told: w was never
// attempted there. A failed attempt of the same work is retried by the cluster queue itself.
func (t *tracker) setWant(k Key, cluster string, w *work) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.slotLocked(k, cluster)
	if s.done.matches(w) {
		if s.done.ok() {
			s.want = nil
			return false
		}
		s.want = w
		return false
	}
	s.want = w
	return true
}

// want returns the work published for k in cluster, nil when there is none or it is done (an
// equal work may have been published again while the first was carried out).
func (t *tracker) want(k Key, cluster string) *work {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.m[k][cluster]
	if s == nil {
		return nil
	}
	if s.want != nil && s.done.matches(s.want) && s.done.ok() {
		s.want = nil
	}
	return s.want
}

// finish records the outcome o of w and reports whether it differs from the previous outcome
// (then the template must look again).
func (t *tracker) finish(k Key, cluster string, w *work, o *outcome) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.slotLocked(k, cluster)
	changed := s.done == nil || s.done.action != o.action || s.done.hash != o.hash || s.done.message() != o.message()
	s.done = o
	t.seq++
	s.seq = t.seq
	if o.ok() {
		if s.want == w || s.want != nil && o.matches(s.want) {
			s.want = nil // done: drop the object, the outcome is enough
		}
		s.holds = o.action == actApply || o.action == actNamespace
		// A copy deleted (or released) since is not what the binding's record says is there.
		s.stale = o.action == actDelete || o.action == actRelease
	}
	return changed
}

// answered reports whether the last outcome recorded for k in cluster is an apply of hash.
func (t *tracker) answered(k Key, cluster, hash string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.m[k][cluster]
	return s != nil && s.done != nil && s.done.action == actApply && s.done.hash == hash
}

// wroteVersion reports whether fleetgate's last write of k's copy in cluster left resourceVersion.
func (t *tracker) wroteVersion(k Key, cluster, resourceVersion string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.m[k][cluster]
	return s != nil && s.done.ok() && s.done.written != "" && s.done.written == resourceVersion
}

// awaitWatch records that a pass over k waits for cluster's watch to bring fleetgate's write of
// the copy.
func (t *tracker) awaitWatch(k Key, cluster string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.slotLocked(k, cluster).awaitingWatch = true
}

// takeAwaitingWatch reports whether a pass over k waits for cluster's watch, and ends the wait.
func (t *tracker) takeAwaitingWatch(k Key, cluster string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.m[k][cluster]
	if s == nil || !s.awaitingWatch {
		return false
	}
	s.awaitingWatch = false
	return true
}

// setClear records that no unmanaged object is in the way of k's copy in cluster, as seen just
// now; it is trusted until until.
func (t *tracker) setClear(k Key, cluster string, until time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.slotLocked(k, cluster).clearUntil = until
}

// setReported records msg as reported for k in cluster and reports whether it is new.
func (t *tracker) setReported(k Key, cluster, msg string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.slotLocked(k, cluster)
	if s.reported == msg {
		return false
	}
	s.reported = msg
	return true
}

// observe records a sweep of cluster for kind gk: present holds the templates whose copies
// were found. It returns the templates whose knowledge changed: a copy found that was not known,
// or a copy known to be applied that is missing (its slot becomes stale and forgets the outcome).
func (t *tracker) observe(cluster string, gk schema.GroupKind, present map[Key]bool, listedAt uint64) []Key {
	t.mu.Lock()
	defer t.mu.Unlock()
	var changed []Key
	for k, byCluster := range t.m {
		if k.Kind != gk {
			continue
		}
		s := byCluster[cluster]
		if s == nil || present[k] || s.seq > listedAt {
			continue // there, or written since the listing began: the list cannot say
		}
		if s.holds || s.done.ok() && s.done.action != actDelete && s.done.action != actRelease {
			s.holds, s.stale, s.done = false, true, nil
			changed = append(changed, k)
		}
	}
	for k := range present {
		s := t.slotLocked(k, cluster)
		if s.seq > listedAt {
			continue // removed (or written) since the listing began
		}
		if !s.holds {
			s.holds = true
			if s.done != nil && (s.done.action == actDelete || s.done.action == actRelease) {
				s.done = nil // a copy is back after it was removed: remove it again if need be
			}
			changed = append(changed, k)
		}
	}
	return changed
}

// now returns the tracker's seq: outcomes recorded later have a larger one.
func (t *tracker) now() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.seq
}

// recordedSince reports whether an outcome for k in cluster was recorded after seq.
func (t *tracker) recordedSince(k Key, cluster string, seq uint64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.m[k][cluster]
	return s != nil && s.seq > seq
}

// markStale says the binding's record of k in cluster is not to be trusted.
func (t *tracker) markStale(k Key, cluster string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.slotLocked(k, cluster)
	s.stale, s.holds = true, false
	if s.done.ok() && s.done.action == actApply {
		s.done = nil
	}
}

// failed returns the templates whose last attempt in cluster failed.
func (t *tracker) failed(cluster string) []Key {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []Key
	for k, byCluster := range t.m {
		if s := byCluster[cluster]; s != nil && s.done != nil && s.done.err != nil && s.want != nil {
			out = append(out, k)
		}
	}
	return out
}

// forget drops everything known about k.
func (t *tracker) forget(k Key) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, k)
}

// forgetCluster drops everything known about cluster and returns the templates that had a slot
// there.
func (t *tracker) forgetCluster(cluster string) []Key {
	t.mu.Lock()
	defer t.mu.Unlock()
	var keys []Key
	for k, byCluster := range t.m {
		if _, ok := byCluster[cluster]; ok {
			delete(byCluster, cluster)
			keys = append(keys, k)
		}
	}
	return keys
}
