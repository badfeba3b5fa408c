package reconcile

import (
	"context"
	"strconv"
	"sync"
)

// waiters lets the write pipeline wait for the reconciler: Handoff registers a waiter for a
// template at the resourceVersion it committed; the template worker releases it once a pass over
// that version (or a later one) has left no Ready target waiting for its copy.
type waiters struct {
	mu sync.Mutex
	m  map[Key][]*waiter
}

type waiter struct {
	resourceVersion string
	done            chan struct{}
}

func newWaiters() *waiters { return &waiters{m: map[Key][]*waiter{}} }

// add registers a waiter for key at resourceVersion.
func (w *waiters) add(key Key, resourceVersion string) *waiter {
	wt := &waiter{resourceVersion: resourceVersion, done: make(chan struct{})}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.m[key] = append(w.m[key], wt)
	return wt
}

// remove drops wt (its caller stopped waiting).
func (w *waiters) remove(key Key, wt *waiter) {
	w.mu.Lock()
	defer w.mu.Unlock()
	ws := w.m[key]
	for i, x := range ws {
		if x == wt {
			ws = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(w.m, key)
	} else {
		w.m[key] = ws
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

// release ends the waits for key at resourceVersion or older ("" ends every wait for key).
func (w *waiters) release(key Key, resourceVersion string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	ws := w.m[key]
	if len(ws) == 0 {
		return
	}
	kept := ws[:0]
	for _, wt := range ws {
		if resourceVersion == "" || !newer(wt.resourceVersion, resourceVersion) {
			close(wt.done)
			continue
		}
		kept = append(kept, wt)
	}
	if len(kept) == 0 {
		delete(w.m, key)
	} else {
		w.m[key] = kept
	}
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

// Handoff takes a template the write pipeline just committed (at resourceVersion) to the
// reconciler and waits until a pass over that version has left none of its Ready target clusters
// waiting: each holds the copy, or has answered why it does not. It returns ctx's error when ctx
// ends first; the reconciler carries on regardless. checked names the clusters where the
// pipeline's member dry-run found no unmanaged object in the way, so the first write there need
// not read first. The per-member queues stay the only writers to members.
func (c *Controller) Handoff(ctx context.Context, key Key, resourceVersion string, checked map[string]bool) error {
	for cluster, ok := range checked {
		if ok {
			c.tracker.setClear(key, cluster)
		}
	}
	wt := c.waiters.add(key, resourceVersion)
	c.queue.Add(key)
	select {
	case <-wt.done:
		return nil
	case <-ctx.Done():
		c.waiters.remove(key, wt)
		return ctx.Err()
	}
}
