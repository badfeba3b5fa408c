package reconcile

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/util/workqueue"

	"github.com/fleetgate/fleetgate/propagate/member"
)

func TestTracker(t *testing.T) {
	k := Key{Kind: configMapsGK, Namespace: "ns", Name: "cm"}
	apply := func(hash string, overwrite bool) *work {
		return &work{action: actApply, gvr: corev1.SchemeGroupVersion.WithResource("configmaps"), hash: hash, overwrite: overwrite}
	}
	tr := newTracker()

	w := apply("h1", false)
	if !tr.setWant(k, "m1", w) {
		t.Fatal("new work must be dispatched")
	}
	if tr.want(k, "m1") != w {
		t.Fatal("published work not returned")
	}
	if !tr.setWant(k, "m1", apply("h1", false)) {
		t.Error("work not attempted yet must be dispatched again (the cluster may have no queue yet)")
	}

	conflict := errors.New("conflict")
	if !tr.finish(k, "m1", w, &outcome{action: actApply, hash: "h1", err: conflict, permanent: true}) {
		t.Error("first outcome must send the template back")
	}
	if tr.finish(k, "m1", w, &outcome{action: actApply, hash: "h1", err: conflict, permanent: true}) {
		t.Error("the same failure again must not")
	}
	if tr.setWant(k, "m1", apply("h1", false)) {
		t.Error("a failed work is retried by the cluster's queue, not dispatched again")
	}
	if got := tr.failed("m1"); len(got) != 1 || got[0] != k {
		t.Errorf("failed(m1) = %v", got)
	}
	ow := apply("h1", true)
	if !tr.setWant(k, "m1", ow) {
		t.Error("a failure under Abort must not hold back an attempt under Overwrite")
	}
	if !tr.finish(k, "m1", ow, &outcome{action: actApply, hash: "h1", overwrite: true}) {
		t.Error("success after failure must send the template back")
	}
	s := tr.snapshot(k)["m1"]
	if !s.done.ok() || !s.holds || s.want != nil {
		t.Errorf("after success: %+v", s)
	}
	if tr.setWant(k, "m1", apply("h1", false)) {
		t.Error("applied work must not be dispatched again")
	}

	// A sweep that does not find the copy makes it stale; one that finds it again after a delete
	// forgets the delete.
	if changed := tr.observe("m1", configMapsGK, map[Key]bool{}, tr.now()); len(changed) != 1 {
		t.Errorf("observe without the copy: changed %v", changed)
	}
	if s := tr.snapshot(k)["m1"]; !s.stale || s.done != nil || s.holds {
		t.Errorf("after a sweep missed the copy: %+v", s)
	}
	del := &work{action: actDelete, gvr: corev1.SchemeGroupVersion.WithResource("configmaps")}
	tr.setWant(k, "m1", del)
	tr.finish(k, "m1", del, &outcome{action: actDelete})
	if tr.setWant(k, "m1", del) {
		t.Error("done delete dispatched again")
	}
	if changed := tr.observe("m1", configMapsGK, map[Key]bool{k: true}, tr.now()); len(changed) != 1 {
		t.Errorf("observe with the copy back: changed %v", changed)
	}
	if !tr.setWant(k, "m1", del) {
		t.Error("a copy that came back after its delete must be deleted again")
	}

	// A listing that began before an outcome was recorded says nothing about that copy: the
	// apply finished after the list was taken (the double apply of a template created during a
	// warm restart), or the delete did.
	listedAt := tr.now()
	again := apply("h2", false)
	tr.setWant(k, "m1", again)
	tr.finish(k, "m1", again, &outcome{action: actApply, hash: "h2"})
	if changed := tr.observe("m1", configMapsGK, map[Key]bool{}, listedAt); len(changed) != 0 {
		t.Errorf("a list older than the apply made the copy stale: changed %v", changed)
	}
	if s := tr.snapshot(k)["m1"]; s.stale || !s.done.ok() {
		t.Errorf("after an older list: %+v", s)
	}
	if !tr.recordedSince(k, "m1", listedAt) || tr.recordedSince(k, "m1", tr.now()) {
		t.Error("recordedSince does not tell an outcome newer than the listing")
	}

	if keys := tr.forgetCluster("m1"); len(keys) != 1 {
		t.Errorf("forgetCluster = %v", keys)
	}
	if tr.want(k, "m1") != nil {
		t.Error("forgotten cluster still has work")
	}
}

// TestOwnWriteEventStartsTheAwaitedPass: the member watch's event of fleetgate's own write starts
// no template pass, unless a pass found the watch behind that write and left the binding's and
// the template's status to the event's pass (otherwise the status is never written when the
// event comes after the write was recorded and after that pass: make test saw a binding without
// status for 30s).
func TestOwnWriteEventStartsTheAwaitedPass(t *testing.T) {
	c := &Controller{tracker: newTracker(), queue: workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[Key]())}
	defer c.queue.ShutDown()
	k := &kind{gvk: corev1.SchemeGroupVersion.WithKind("ConfigMap")}
	d := &dispatcher{name: "m1"}
	key := Key{Kind: configMapsGK, Namespace: "ns", Name: "cm"}
	w := &work{action: actApply, gvr: corev1.SchemeGroupVersion.WithResource("configmaps"), hash: "h1"}
	c.tracker.setWant(key, "m1", w)
	c.tracker.finish(key, "m1", w, &outcome{action: actApply, hash: "h1", written: "42"})
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "cm", "namespace": "ns", "resourceVersion": "42",
			"labels": map[string]any{member.LabelManaged: "true"}, "annotations": map[string]any{member.AnnotationTemplate: "v1/ConfigMap/ns/cm"}}}}
	copy, err := (&copyCodec{}).compact(u)
	if err != nil {
		t.Fatal(err)
	}
	h := c.copyHandler(d, k)
	queued := func() bool {
		if c.queue.Len() == 0 {
			return false
		}
		got, _ := c.queue.Get()
		c.queue.Done(got)
		if got != key {
			t.Fatalf("queued %v, want %v", got, key)
		}
		return true
	}
	h.OnAdd(copy, false)
	if queued() {
		t.Error("fleetgate's own write came back and nobody waits for it: queued anyway")
	}
	c.tracker.awaitWatch(key, "m1")
	h.OnAdd(copy, false)
	if !queued() {
		t.Fatal("a pass waits for the watch to bring fleetgate's write: its event queued nothing")
	}
	h.OnAdd(copy, false)
	if queued() {
		t.Error("the wait ended with the event that started the pass: a second event queued again")
	}
}
