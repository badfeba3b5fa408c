package reconcile

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/fleetgate/fleetgate/propagate/plan"
)

// A binding's record that a cluster holds the current copy is not trusted once fleetgate deleted
// that copy since (e.g. after a readiness flap made the cluster look unplaced to a pass that read
// a lagging binding): the copy is written again instead of being reported applied.
func TestRecordedHashDoesNotStandForADeletedCopy(t *testing.T) {
	c := &Controller{tracker: newTracker(), dispatchers: map[string]*dispatcher{}}
	key := Key{Kind: configMapsGK, Namespace: "ns", Name: "cm"}
	obj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "cm", "namespace": "ns"}, "data": map[string]any{"k": "v"}}}
	h := hashObject(obj)
	del := &work{action: actDelete, gvr: namespacesGVR, namespace: "ns", name: "cm", ref: "v1/ConfigMap/ns/cm"}
	c.tracker.setWant(key, "member2", del)
	c.tracker.finish(key, "member2", del, &outcome{action: actDelete})

	ps := &pass{key: key, k: &kind{gvr: namespacesGVR}, obj: obj, record: map[string]string{"member2": h},
		next: map[string]string{"member2": h}, slots: c.tracker.snapshot(key), results: map[string]result{}}
	c.applyTo(ps, "member2", &plan.ClusterPlan{Object: obj})
	if r, ok := ps.results["member2"]; ok && r.applied {
		t.Fatalf("member2 reported applied from the binding's record although its copy was deleted since")
	}
	if !ps.pending {
		t.Fatal("the copy is not written again")
	}
	if w := c.tracker.want(key, "member2"); w == nil || w.action != actApply || w.known {
		t.Errorf("work published for member2 = %+v, want an apply that reads first", w)
	}
}
