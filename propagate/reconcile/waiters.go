package reconcile

import (
	"context"
	"strconv"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// waiters lets the write pipeline wait for the reconciler: Handoff registers a waiter for a
// template at the resourceVersion it committed; a template pass over that version (or a later one)
// that leaves no Ready target waiting for its copy releases it, and so does the last of the
// cluster workers that pass was waiting for, the moment it has answered (answered), without
// another pass through the template queue.
//
// While anyone waits for a key, the object the pipeline committed is kept (fresh): the template
// informer may not have it yet, and the pass takes it from here instead of reading the host.
type waiters struct {
	mu    sync.Mutex
	m     map[Key][]*waiter
	fresh map[Key]*unstructured.Unstructured
}

type waiter struct {
	resourceVersion string
	done            chan struct{}
	// pending, once a pass over resourceVersion (or later) dispatched copies, maps each Ready
	// cluster still to answer to the hash of the copy it was asked to apply.
	pending map[string]string
}

func newWaiters() *waiters {
	return &waiters{m: map[Key][]*waiter{}, fresh: map[Key]*unstructured.Unstructured{}}
}

// add registers a waiter for key at resourceVersion; committed (optional) is the object written
// at that version.
func (w *waiters) add(key Key, resourceVersion string, committed *unstructured.Unstructured) *waiter {
	wt := &waiter{resourceVersion: resourceVersion, done: make(chan struct{})}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.m[key] = append(w.m[key], wt)
	if committed != nil && committed.GetResourceVersion() == resourceVersion {
		if f := w.fresh[key]; f == nil || newer(resourceVersion, f.GetResourceVersion()) {
			w.fresh[key] = committed
		}
	}
	return wt
}

// remove drops wt (its caller stopped waiting).
func (w *waiters) remove(key Key, wt *waiter) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.keepLocked(key, func(x *waiter) bool { return x != wt })
}

// keepLocked keeps the waiters of key for which keep is true, closing none; the fresh object goes
// with the last waiter.
func (w *waiters) keepLocked(key Key, keep func(*waiter) bool) {
	ws := w.m[key]
	kept := ws[:0]
	for _, wt := range ws {
		if keep(wt) {
			kept = append(kept, wt)
		}
	}
	if len(kept) == 0 {
		delete(w.m, key)
		delete(w.fresh, key)
	} else {
		w.m[key] = kept
	}
}

// oldest returns the oldest resourceVersion anyone waits for at key ("" when nobody waits).
func (w *waiters) oldest(key Key) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	oldest := ""
	for _, wt := range w.m[key] {
		if oldest == "" || newer(oldest, wt.resourceVersion) {
			oldest = wt.resourceVersion
		}
	}
	return oldest
}

// committed returns the object the pipeline committed for key if someone still waits for it and
// it is not older than resourceVersion.
func (w *waiters) committed(key Key, resourceVersion string) *unstructured.Unstructured {
	w.mu.Lock()
	defer w.mu.Unlock()
	f := w.fresh[key]
	if f == nil || newer(resourceVersion, f.GetResourceVersion()) {
		return nil
	}
	return f
}

// release ends the waits for key at resourceVersion or older ("" ends every wait for key).
func (w *waiters) release(key Key, resourceVersion string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.keepLocked(key, func(wt *waiter) bool {
		if resourceVersion == "" || !newer(wt.resourceVersion, resourceVersion) {
			close(wt.done)
			return false
		}
		return true
	})
}

// await is what a pass over key at resourceVersion leaves for the waiters at that version or
// older: pending maps the Ready clusters asked to apply a copy to its hash. done reports whether
// cluster has answered for hash already (its outcome is recorded); it is asked under the waiters'
// lock, so that an answer recorded after it is seen by answered. Waiters left with nothing
// pending are released.
func (w *waiters) await(key Key, resourceVersion string, pending map[string]string, done func(cluster, hash string) bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.m[key]) == 0 {
		return
	}
	left := map[string]string{}
	for cl, h := range pending {
		if !done(cl, h) {
			left[cl] = h
		}
	}
	w.keepLocked(key, func(wt *waiter) bool {
		if newer(wt.resourceVersion, resourceVersion) {
			return true // a later pass will see its version
		}
		if len(left) == 0 {
			close(wt.done)
			return false
		}
		wt.pending = left
		return true
	})
}

// answered tells the waiters of key that cluster has answered for the copy of hash. Those whose
// pass waits for nothing else are released.
func (w *waiters) answered(key Key, cluster, hash string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.m[key]) == 0 {
		return
	}
	w.keepLocked(key, func(wt *waiter) bool {
		if wt.pending == nil || wt.pending[cluster] != hash {
			return true
		}
		if len(wt.pending) == 1 {
			close(wt.done)
			return false
		}
		// Shared with the waiters of the same pass: replaced, not changed in place.
		next := make(map[string]string, len(wt.pending)-1)
		for cl, h := range wt.pending {
			if cl != cluster {
				next[cl] = h
			}
		}
		wt.pending = next
		return true
	})
}

// newer reports whether resourceVersion a is newer than b. Resource versions are opaque to clients,
// but the host is a kube-apiserver over etcd, whose resource versions are revisions: compared as
// numbers when both are, otherwise only equality counts (a is then "newer" unless it equals b).
func newer(a, b string) bool {
	x, err1 := strconv.ParseUint(a, 10, 64)
	y, err2 := strconv.ParseUint(b, 10, 64)
	if err1 != nil || err2 != nil {
		return a != b
	}
	return x > y
}

// Handoff takes a template the write pipeline just committed to the reconciler and waits until
// its Ready target clusters are no longer waiting: each holds the copy, or has answered why it
// does not. committed is the host's answer to the write (its resourceVersion is the version to
// wait for); the pass takes it when the template informer has not caught up yet, instead of
// reading the host. Handoff returns ctx's error when ctx ends first; the reconciler carries on
// regardless. checked names the clusters where the pipeline's member dry-run found no unmanaged
// object in the way, so the first write there need not read first. The per-member queues stay
// the only writers to members.
func (c *Controller) Handoff(ctx context.Context, key Key, committed *unstructured.Unstructured, checked map[string]bool) error {
	c.Checked(key, checked)
	wt := c.waiters.add(key, committed.GetResourceVersion(), committed)
	c.queue.Add(key)
	select {
	case <-wt.done:
		return nil
	case <-ctx.Done():
		c.waiters.remove(key, wt)
		return ctx.Err()
	}
}

// checkedFor is how long what the pipeline's member dry-run found is trusted.
const checkedFor = 30 * time.Second

// Checked tells the reconciler, before the pipeline commits a template, where its member dry-run
// found no unmanaged object in the way of key's copy (checked[cluster] true): the first write
// there, within checkedFor, need not read first — even by a pass that the template informer
// starts before Handoff is called.
func (c *Controller) Checked(key Key, checked map[string]bool) {
	until := c.opts.Clock.Now().Add(checkedFor)
	for cluster, ok := range checked {
		if ok {
			c.tracker.setClear(key, cluster, until)
		}
	}
}
