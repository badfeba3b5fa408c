package reconcile

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	fcache "k8s.io/client-go/tools/cache/testing"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	"github.com/fleetgate/fleetgate/propagate/claim"
	"github.com/fleetgate/fleetgate/propagate/member"
)

// watchedDeployment is a member copy of a Deployment as a member's apiserver sends it (defaulted,
// with fleetgate's managedFields entry and a controller's status).
const watchedDeployment = `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"annotations":{"fleetgate.io/template":"apps/v1/Deployment/x/web","fleetgate.io/template-uid":"6a4f9639-d398-456f-a943-1ff9536d3221"},"creationTimestamp":"2026-12-02T12:51:48Z","generation":1,"labels":{"app":"web","fleetgate.io/managed":"true"},"managedFields":[{"apiVersion":"apps/v1","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:replicas":{}}},"manager":"fleetgate","operation":"Apply","time":"2026-12-02T12:51:48Z"}],"name":"web","namespace":"x","resourceVersion":"443","uid":"41a94770-07a2-4d6d-8491-75b5cda345e1"},"spec":{"progressDeadlineSeconds":600,"replicas":2,"revisionHistoryLimit":10,"selector":{"matchLabels":{"app":"web"}},"strategy":{"rollingUpdate":{"maxSurge":"25%","maxUnavailable":"25%"},"type":"RollingUpdate"},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"image":"nginx","imagePullPolicy":"Always","name":"app","resources":{},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}],"dnsPolicy":"ClusterFirst","restartPolicy":"Always","schedulerName":"default-scheduler","securityContext":{},"terminationGracePeriodSeconds":30}}},"status":{"availableReplicas":2,"conditions":[{"lastTransitionTime":"2026-12-02T12:51:50Z","lastUpdateTime":"2026-12-02T12:51:50Z","message":"ok","reason":"MinimumReplicasAvailable","status":"True","type":"Available"}],"observedGeneration":1,"readyReplicas":2,"replicas":2,"updatedReplicas":2}}`

// decoded returns the object as the watch decodes it (integers as int64).
func decoded(t *testing.T, js string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := runtime.DecodeInto(unstructured.UnstructuredJSONScheme, []byte(js), u); err != nil {
		t.Fatal(err)
	}
	return u
}

func mustCompact(t *testing.T, u *unstructured.Unstructured) *watched {
	t.Helper()
	w, err := (&copyCodec{}).compact(u.DeepCopy())
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// The compact copy gives back the object the watch delivered, managedFields dropped (which the
// copy watch never kept), with the metadata its handlers and lookups read.
func TestCompactCopyKeepsTheObject(t *testing.T) {
	u := decoded(t, watchedDeployment)
	w := mustCompact(t, u)
	want := u.DeepCopy()
	want.SetManagedFields(nil)
	got := w.object()
	if got == nil || !reflect.DeepEqual(got.Object, want.Object) {
		t.Fatalf("decoded compact copy differs:\n got %#v\nwant %#v", got, want.Object)
	}
	if v, _, _ := unstructured.NestedFieldNoCopy(got.Object, "spec", "replicas"); reflect.TypeOf(v) != reflect.TypeFor[int64]() {
		t.Errorf("spec.replicas decodes as %T, want int64 as the watch decodes it", v)
	}
	if w.Name != "web" || w.Namespace != "x" || w.UID != u.GetUID() || w.ResourceVersion != "443" || w.Generation != 1 || w.DeletionTimestamp != nil {
		t.Errorf("metadata %+v", w.ObjectMeta)
	}
	if w.template != "apps/v1/Deployment/x/web" || w.templateUID != "6a4f9639-d398-456f-a943-1ff9536d3221" || !w.managed {
		t.Errorf("template %q, templateUID %q, managed %v", w.template, w.templateUID, w.managed)
	}
	if key, err := toolscache.MetaNamespaceKeyFunc(w); err != nil || key != "x/web" {
		t.Errorf("store key %q, %v; want x/web", key, err)
	}
	if again, err := w.codec.transform(w); err != nil || again != any(w) {
		t.Errorf("the transform of a compact copy = %v, %v; want it unchanged", again, err)
	}
}

// The copies of one informer share its first copy as their dictionary: the next copies of the kind
// take a fraction of their JSON, and each decodes to itself, the first included.
func TestCopiesCompressAgainstTheFirst(t *testing.T) {
	cc := &copyCodec{}
	base := decoded(t, watchedDeployment)
	var copies []*watched
	var want []*unstructured.Unstructured
	for i := range 50 {
		u := base.DeepCopy()
		name := fmt.Sprintf("web-%05d", i)
		u.SetName(name)
		u.SetUID(types.UID(fmt.Sprintf("41a94770-07a2-4d6d-8491-%012d", i)))
		u.SetResourceVersion(fmt.Sprint(443 + i))
		u.SetLabels(map[string]string{"app": name, member.LabelManaged: "true"})
		_ = unstructured.SetNestedField(u.Object, int64(i), "spec", "replicas")
		w, err := cc.compact(u.DeepCopy())
		if err != nil {
			t.Fatal(err)
		}
		u.SetManagedFields(nil)
		copies, want = append(copies, w), append(want, u)
	}
	kept := 0
	for i, w := range copies {
		kept += len(w.raw)
		if got := w.object(); got == nil || !reflect.DeepEqual(got.Object, want[i].Object) {
			t.Fatalf("copy %d decodes to\n%v\nwant\n%v", i, got, want[i].Object)
		}
		if i > 0 && len(w.raw)*4 > w.size {
			t.Errorf("copy %d keeps %d bytes of its %d bytes of JSON, want under a quarter", i, len(w.raw), w.size)
		}
	}
	t.Logf("%d copies of %d bytes of JSON keep %d bytes each on average", len(copies), copies[1].size, kept/len(copies))
}

// unstructuredChanged is the rule the template handler applied to unstructured templates before
// the cache kept them packed: a new resourceVersion with a new generation (or none), labels,
// annotations, finalizers or deletion.
func unstructuredChanged(o, n *unstructured.Unstructured) bool {
	if o.GetResourceVersion() == n.GetResourceVersion() {
		return false
	}
	if o.GetGeneration() == 0 || o.GetGeneration() != n.GetGeneration() {
		return true
	}
	return !equality.Semantic.DeepEqual(o.GetLabels(), n.GetLabels()) ||
		!equality.Semantic.DeepEqual(o.GetAnnotations(), n.GetAnnotations()) ||
		!equality.Semantic.DeepEqual(o.GetFinalizers(), n.GetFinalizers()) ||
		(o.GetDeletionTimestamp() == nil) != (n.GetDeletionTimestamp() == nil)
}

// copyChanged decides as the unstructured rule plus a status change did on the unstructured
// copies, and templateChanged as the unstructured rule did on the templates.
func TestCopyChangedAsBefore(t *testing.T) {
	before := func(old, cur *unstructured.Unstructured) bool {
		return unstructuredChanged(old, cur) || !equality.Semantic.DeepEqual(old.Object["status"], cur.Object["status"])
	}
	base := decoded(t, watchedDeployment)
	edits := map[string]func(u *unstructured.Unstructured){
		"resync (same resourceVersion)": func(u *unstructured.Unstructured) {},
		"managedFields only":            func(u *unstructured.Unstructured) { u.SetManagedFields(nil) },
		"status": func(u *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(u.Object, int64(1), "status", "availableReplicas")
		},
		"status condition": func(u *unstructured.Unstructured) {
			conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
			conds[0].(map[string]any)["status"] = "False"
			_ = unstructured.SetNestedSlice(u.Object, conds, "status", "conditions")
		},
		"status removed": func(u *unstructured.Unstructured) { delete(u.Object, "status") },
		"spec (generation)": func(u *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(u.Object, int64(3), "spec", "replicas")
			u.SetGeneration(2)
		},
		"label": func(u *unstructured.Unstructured) {
			u.SetLabels(map[string]string{"app": "web", member.LabelManaged: "true", "x": "y"})
		},
		"annotation": func(u *unstructured.Unstructured) {
			u.SetAnnotations(map[string]string{member.AnnotationTemplate: "apps/v1/Deployment/x/web"})
		},
		"finalizer":     func(u *unstructured.Unstructured) { u.SetFinalizers([]string{"example.com/hold"}) },
		"deletion":      func(u *unstructured.Unstructured) { now := metav1.Now(); u.SetDeletionTimestamp(&now) },
		"creation time": func(u *unstructured.Unstructured) { u.SetCreationTimestamp(metav1.NewTime(time.Unix(0, 0))) },
	}
	for name, edit := range edits {
		t.Run(name, func(t *testing.T) {
			cur := base.DeepCopy()
			edit(cur)
			if name != "resync (same resourceVersion)" {
				cur.SetResourceVersion("444")
			}
			old := base.DeepCopy()
			// The unstructured copies the watch kept had no managedFields either.
			old.SetManagedFields(nil)
			curKept := cur.DeepCopy()
			curKept.SetManagedFields(nil)
			want := before(old, curKept)
			if got := copyChanged(mustCompact(t, base), mustCompact(t, cur)); got != want {
				t.Errorf("copyChanged = %v, the unstructured rule said %v", got, want)
			}
			cc := &copyCodec{}
			ot, err := cc.templateTransform(base.DeepCopy())
			if err != nil {
				t.Fatal(err)
			}
			nt, err := cc.templateTransform(cur.DeepCopy())
			if err != nil {
				t.Fatal(err)
			}
			if got, want := templateChanged(ot, nt), unstructuredChanged(old, curKept); got != want {
				t.Errorf("templateChanged = %v, the unstructured rule said %v", got, want)
			}
		})
	}
}

// A copy informer with the transform keeps compact copies, keyed as before, and hands them to
// its handlers on add, update and delete (tombstones included).
func TestCopyInformerKeepsCompactCopies(t *testing.T) {
	src := fcache.NewFakeControllerSource()
	inf := toolscache.NewSharedIndexInformer(src, &unstructured.Unstructured{}, 0, toolscache.Indexers{})
	if err := inf.SetTransform((&copyCodec{}).transform); err != nil {
		t.Fatal(err)
	}
	type event struct {
		kind     string
		old, cur *watched
	}
	events := make(chan event, 10)
	asWatched := func(obj any) *watched {
		w, ok := untomb(obj).(*watched)
		if !ok {
			t.Errorf("handler got %T, want *watched", obj)
		}
		return w
	}
	_, _ = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { events <- event{kind: "add", cur: asWatched(obj)} },
		UpdateFunc: func(old, cur any) { events <- event{kind: "update", old: asWatched(old), cur: asWatched(cur)} },
		DeleteFunc: func(obj any) { events <- event{kind: "delete", cur: asWatched(obj)} },
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go inf.RunWithContext(ctx)
	next := func(kind string) event {
		t.Helper()
		select {
		case e := <-events:
			if e.kind != kind {
				t.Fatalf("event %s, want %s", e.kind, kind)
			}
			return e
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s event", kind)
		}
		return event{}
	}

	u := decoded(t, watchedDeployment)
	src.Add(u.DeepCopy())
	added := next("add")
	if added.cur.Name != "web" || added.cur.template != "apps/v1/Deployment/x/web" {
		t.Errorf("added %+v", added.cur.ObjectMeta)
	}
	stored, exists, err := inf.GetStore().GetByKey("x/web")
	if w, ok := stored.(*watched); err != nil || !exists || !ok || w != added.cur {
		t.Fatalf("store x/web: %T %v %v; want the added compact copy", stored, exists, err)
	}

	mod := u.DeepCopy()
	_ = unstructured.SetNestedField(mod.Object, int64(1), "status", "readyReplicas")
	src.Modify(mod)
	updated := next("update")
	if updated.old != added.cur || !copyChanged(updated.old, updated.cur) {
		t.Errorf("update: old is the stored copy %v, changed %v; want true, true", updated.old == added.cur, copyChanged(updated.old, updated.cur))
	}
	if v, _, _ := unstructured.NestedInt64(updated.cur.object().Object, "status", "readyReplicas"); v != 1 {
		t.Errorf("updated copy's readyReplicas %d, want 1", v)
	}

	src.Delete(mod.DeepCopy())
	if deleted := next("delete"); deleted.cur.Name != "web" {
		t.Errorf("deleted %+v", deleted.cur.ObjectMeta)
	}
}

// The template cache keeps a template packed, with its claim for the claim index; the kind's get
// decodes it to the object the watch delivered (managedFields dropped).
func TestCachedTemplate(t *testing.T) {
	u := decoded(t, watchedDeployment)
	u.SetAnnotations(map[string]string{policyv1alpha1.PropagationPolicyNamespaceAnnotation: "x", policyv1alpha1.PropagationPolicyNameAnnotation: "web-policy"})
	obj, err := (&copyCodec{}).templateTransform(u.DeepCopy())
	if err != nil {
		t.Fatal(err)
	}
	ct, ok := obj.(*cachedTemplate)
	if !ok {
		t.Fatalf("transform made %T, want *cachedTemplate", obj)
	}
	idx, _ := claimIndexFunc(ct)
	if want := claimIndexValue(claim.Of(u)); len(idx) != 1 || idx[0] != want {
		t.Errorf("claim index %v, want [%s]", idx, want)
	}
	want := u.DeepCopy()
	want.SetManagedFields(nil)
	if got := ct.object(); got == nil || !reflect.DeepEqual(got.Object, want.Object) {
		t.Errorf("decoded template differs:\n got %v\nwant %v", got, want.Object)
	}
	if key, err := toolscache.MetaNamespaceKeyFunc(ct); err != nil || key != "x/web" {
		t.Errorf("store key %q, %v; want x/web", key, err)
	}
	u.SetAnnotations(nil)
	unclaimed, _ := (&copyCodec{}).templateTransform(u)
	if idx, _ := claimIndexFunc(unclaimed); len(idx) != 0 {
		t.Errorf("claim index of an unclaimed template %v, want none", idx)
	}
}
