package reconcile

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
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
