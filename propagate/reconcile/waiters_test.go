package reconcile

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func released(wt *waiter) bool {
	select {
	case <-wt.done:
		return true
	default:
		return false
	}
}

// A pass that dispatched copies leaves the waiters at its version (or older) waiting for those
// clusters; each cluster's answer for the copy it was asked to apply releases its share, and the
// last one releases the waiter — without another pass. An answer for another copy (an older
// write still in flight) does not count, and a waiter for a later version waits for its own pass.
func TestWaitersAreReleasedByTheClustersAnswers(t *testing.T) {
	w := newWaiters()
	k := Key{Kind: schema.GroupKind{Kind: "ConfigMap"}, Namespace: "ns", Name: "a"}
	wt, later := w.add(k, "10", nil), w.add(k, "11", nil)
	done := map[string]bool{}
	w.await(k, "10", map[string]string{"m1": "h1", "m2": "h2", "m3": "h3"}, func(cl, h string) bool { return done[cl+"/"+h] })
	if released(wt) {
		t.Fatal("released before any cluster answered")
	}
	w.answered(k, "m1", "h1")
	w.answered(k, "m2", "old")
	if released(wt) {
		t.Fatal("released while m2 (answered for another copy) and m3 had not answered")
	}
	w.answered(k, "m2", "h2")
	w.answered(k, "m3", "h3")
	if !released(wt) {
		t.Fatal("not released when every cluster had answered")
	}
	if released(later) {
		t.Fatal("the waiter for a later version was released by a pass over an earlier one")
	}

	// An answer recorded before the pass publishes what it waits for counts as given.
	done["m1/h4"] = true
	w.await(k, "11", map[string]string{"m1": "h4"}, func(cl, h string) bool { return done[cl+"/"+h] })
	if !released(later) {
		t.Fatal("not released though its only cluster had answered already")
	}
}

// While someone waits, the committed object is kept for the pass (the informer may lag); it goes
// with the last waiter, and an older version than the one waited for is never returned.
func TestWaitersKeepTheCommittedObject(t *testing.T) {
	w := newWaiters()
	k := Key{Kind: schema.GroupKind{Kind: "ConfigMap"}, Namespace: "ns", Name: "a"}
	obj := &unstructured.Unstructured{}
	obj.SetResourceVersion("7")
	wt := w.add(k, "7", obj)
	if got := w.committed(k, "7"); got != obj {
		t.Fatalf("committed = %v, want the object handed over", got)
	}
	if got := w.committed(k, "8"); got != nil {
		t.Errorf("committed for a later version = %v, want nil", got)
	}
	w.remove(k, wt)
	if got := w.committed(k, "7"); got != nil {
		t.Errorf("committed kept after the last waiter left: %v", got)
	}
}

func TestWaitersReleaseUpToAVersion(t *testing.T) {
	w := newWaiters()
	k := Key{Kind: schema.GroupKind{Kind: "ConfigMap"}, Namespace: "ns", Name: "a"}
	old, cur, later := w.add(k, "10", nil), w.add(k, "12", nil), w.add(k, "15", nil)
	if got := w.oldest(k); got != "10" {
		t.Fatalf("oldest = %q, want 10", got)
	}
	w.release(k, "12")
	for name, wt := range map[string]*waiter{"10": old, "12": cur} {
		select {
		case <-wt.done:
		default:
			t.Errorf("waiter at %s not released by a pass over 12", name)
		}
	}
	select {
	case <-later.done:
		t.Error("waiter at 15 released by a pass over 12")
	default:
	}
	w.remove(k, later)
	if got := w.oldest(k); got != "" {
		t.Errorf("oldest after remove = %q", got)
	}
}

func TestNewer(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{{"10", "9", true}, {"9", "10", false}, {"10", "10", false}, {"x", "x", false}, {"x", "y", true}} {
		if got := newer(tc.a, tc.b); got != tc.want {
			t.Errorf("newer(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}

// A status the reconciler just wrote is not written again by a pass over the cached template that
// has not caught up with that write; a different status is, and once the cache has caught up the
// stored status speaks for itself.
func TestWrittenStatusesSkipOnlyWhatWasJustWritten(t *testing.T) {
	var w writtenStatuses
	k := Key{Kind: schema.GroupKind{Group: "apps", Kind: "Deployment"}, Namespace: "ns", Name: "web"}
	w.set(k, "12", 7)
	if !w.same(k, "11", 7) {
		t.Error("the status written at 12 was written again from the cached template at 11")
	}
	if w.same(k, "11", 8) {
		t.Error("another status was skipped")
	}
	if w.same(k, "12", 7) {
		t.Error("skipped once the cache had caught up")
	}
	if w.same(k, "11", 7) {
		t.Error("the entry was kept after the cache caught up")
	}
	w.set(k, "20", 1)
	w.drop(k)
	if w.same(k, "19", 1) {
		t.Error("kept after drop")
	}
}
