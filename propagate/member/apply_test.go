package member

import (
	"context"
	"errors"
	"strconv"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"
)

var configMapsGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

// preconditionedClient is a fake member whose deletes honour UID and resourceVersion preconditions
// the way kube-apiserver does (409 Conflict), which the plain fake ignores. changeOnDelete makes
// every delete find the object changed (a new resourceVersion) first.
func preconditionedClient(t *testing.T, changeOnDelete bool, objs ...runtime.Object) *dynamicfake.FakeDynamicClient {
	t.Helper()
	c := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(), objs...)
	c.PrependReactor("delete", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		d := a.(clienttesting.DeleteAction)
		got, err := c.Tracker().Get(d.GetResource(), d.GetNamespace(), d.GetName())
		if err != nil {
			return true, nil, err
		}
		cur := got.(*unstructured.Unstructured)
		if changeOnDelete {
			bump(cur)
			if err := c.Tracker().Update(d.GetResource(), cur, d.GetNamespace()); err != nil {
				t.Fatal(err)
			}
		}
		p := d.GetDeleteOptions().Preconditions
		if p != nil && ((p.UID != nil && *p.UID != cur.GetUID()) || (p.ResourceVersion != nil && *p.ResourceVersion != cur.GetResourceVersion())) {
			return true, nil, apierrors.NewConflict(d.GetResource().GroupResource(), d.GetName(), errPrecondition)
		}
		return false, nil, nil // the tracker deletes it
	})
	return c
}

var errPrecondition = errors.New("the object has been modified: precondition failed")

func bump(u *unstructured.Unstructured) {
	rv, _ := strconv.Atoi(u.GetResourceVersion())
	u.SetResourceVersion(strconv.Itoa(rv + 1))
}

// managedCopy is fleetgate's copy of template ns/name (incarnation templateUID) with member UID uid.
func managedCopy(uid, templateUID string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("v1")
	u.SetKind("ConfigMap")
	u.SetNamespace("ns")
	u.SetName("cm")
	u.SetUID(types.UID(uid))
	u.SetResourceVersion("10")
	u.SetLabels(map[string]string{LabelManaged: "true"})
	u.SetAnnotations(map[string]string{AnnotationTemplate: "v1/ConfigMap/ns/cm", AnnotationTemplateUID: templateUID})
	return u
}

// Between the list that saw a copy and the delete, the copy may have been re-created or rewritten
// for a new template: only the copy that was seen, still as it was, is deleted.
func TestDeleteObservedDeletesOnlyTheCopyItSaw(t *testing.T) {
	tests := []struct {
		name string
		// since changes the member after the list; nil: unchanged.
		since          func(t *testing.T, c *dynamicfake.FakeDynamicClient)
		changeOnDelete bool
		wantUID        types.UID // what the member holds afterwards; "" nothing
	}{
		{name: "unchanged", wantUID: ""},
		{name: "changed, still the same copy", since: update(func(u *unstructured.Unstructured) {
			u.SetLabels(map[string]string{LabelManaged: "true", "other": "label"})
		}), wantUID: ""},
		{name: "re-created with a new UID", since: func(t *testing.T, c *dynamicfake.FakeDynamicClient) {
			if err := c.Tracker().Delete(configMapsGVR, "ns", "cm"); err != nil {
				t.Fatal(err)
			}
			if err := c.Tracker().Create(configMapsGVR, managedCopy("member-2", "template-1"), "ns"); err != nil {
				t.Fatal(err)
			}
		}, wantUID: "member-2"},
		{name: "rewritten for a new incarnation of the template", since: update(func(u *unstructured.Unstructured) {
			u.SetAnnotations(map[string]string{AnnotationTemplate: "v1/ConfigMap/ns/cm", AnnotationTemplateUID: "template-2"})
		}), wantUID: "member-1"},
		{name: "rewritten for another template", since: update(func(u *unstructured.Unstructured) {
			u.SetAnnotations(map[string]string{AnnotationTemplate: "v1/ConfigMap/other/cm", AnnotationTemplateUID: "template-3"})
		}), wantUID: "member-1"},
		{name: "no longer managed", since: update(func(u *unstructured.Unstructured) {
			u.SetLabels(nil)
		}), wantUID: "member-1"},
		{name: "being deleted already", since: update(func(u *unstructured.Unstructured) {
			now := metav1.Now()
			u.SetDeletionTimestamp(&now)
		}), wantUID: "member-1"},
		{name: "gone", since: func(t *testing.T, c *dynamicfake.FakeDynamicClient) {
			if err := c.Tracker().Delete(configMapsGVR, "ns", "cm"); err != nil {
				t.Fatal(err)
			}
		}, wantUID: ""},
		{name: "changes at every attempt", changeOnDelete: true, wantUID: "member-1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			listed := managedCopy("member-1", "template-1")
			c := preconditionedClient(t, tc.changeOnDelete, listed.DeepCopy())
			seen := Observe(listed)
			if tc.since != nil {
				tc.since(t, c)
			}
			deleted, err := DeleteObserved(context.Background(), c, configMapsGVR, seen)
			if err != nil {
				t.Fatalf("DeleteObserved: %v", err)
			}
			if wantDeleted := tc.wantUID == "" && tc.name != "gone"; deleted != wantDeleted {
				t.Errorf("DeleteObserved says deleted=%v, want %v", deleted, wantDeleted)
			}
			var gotUID types.UID
			got, err := c.Tracker().Get(configMapsGVR, "ns", "cm")
			switch {
			case err == nil:
				gotUID = got.(*unstructured.Unstructured).GetUID()
			case !apierrors.IsNotFound(err):
				t.Fatal(err)
			}
			if gotUID != tc.wantUID {
				t.Errorf("member holds UID %q afterwards, want %q", gotUID, tc.wantUID)
			}
			for _, a := range c.Actions() {
				d, ok := a.(clienttesting.DeleteAction)
				if !ok {
					continue
				}
				if p := d.GetDeleteOptions().Preconditions; p == nil || p.UID == nil || *p.UID != seen.UID || p.ResourceVersion == nil {
					t.Errorf("delete without the listed UID and a resourceVersion as preconditions: %+v", p)
				}
			}
		})
	}
}

// update changes the member's copy in place (same UID, new resourceVersion).
func update(f func(u *unstructured.Unstructured)) func(t *testing.T, c *dynamicfake.FakeDynamicClient) {
	return func(t *testing.T, c *dynamicfake.FakeDynamicClient) {
		t.Helper()
		got, err := c.Tracker().Get(configMapsGVR, "ns", "cm")
		if err != nil {
			t.Fatal(err)
		}
		u := got.(*unstructured.Unstructured).DeepCopy()
		f(u)
		bump(u)
		if err := c.Tracker().Update(configMapsGVR, u, "ns"); err != nil {
			t.Fatal(err)
		}
	}
}
