package reconcile

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestAppliedSparesTheSameWrite(t *testing.T) {
	c := &Controller{tracker: newTracker()}
	k := Key{Resource: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, Namespace: "default", Name: "web"}
	obj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "web"}}}
	c.Applied(k, "member1", obj, false)
	same := &work{action: actApply, object: obj, hash: hashObject(obj)}
	if c.tracker.setWant(k, "member1", same) {
		t.Error("the copy dispatch already wrote is written again")
	}
	other := obj.DeepCopy()
	other.SetLabels(map[string]string{"changed": "yes"})
	if !c.tracker.setWant(k, "member1", &work{action: actApply, object: other, hash: hashObject(other)}) {
		t.Error("a different copy is not written")
	}
	if !c.tracker.setWant(k, "member2", same) {
		t.Error("another cluster is spared too")
	}
}
