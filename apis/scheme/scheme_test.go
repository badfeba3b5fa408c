package scheme

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/randfill"
	"sigs.k8s.io/yaml"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
)

func TestAddToScheme(t *testing.T) {
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	want := map[schema.GroupVersion][]string{
		{Group: "cluster.karmada.io", Version: "v1alpha1"}: {"Cluster", "ClusterList"},
		{Group: "policy.karmada.io", Version: "v1alpha1"}: {
			"ClusterOverridePolicy", "ClusterOverridePolicyList", "ClusterPropagationPolicy", "ClusterPropagationPolicyList",
			"OverridePolicy", "OverridePolicyList", "PropagationPolicy", "PropagationPolicyList",
		},
		{Group: "work.karmada.io", Version: "v1alpha2"}: {"ClusterResourceBinding", "ClusterResourceBindingList", "ResourceBinding", "ResourceBindingList"},
	}
	if got := GroupVersions(); len(got) != len(want) {
		t.Errorf("GroupVersions() = %v", got)
	}
	for _, gv := range GroupVersions() {
		var kinds []string
		for kind := range s.KnownTypes(gv) {
			// metav1.AddToGroupVersion registers options and events kinds in every group version.
			if !slices.Contains([]string{"WatchEvent", "GetOptions", "ListOptions", "CreateOptions", "UpdateOptions", "PatchOptions", "DeleteOptions"}, kind) {
				kinds = append(kinds, kind)
			}
		}
		slices.Sort(kinds)
		if !slices.Equal(kinds, want[gv]) {
			t.Errorf("%s kinds = %v, want %v", gv, kinds, want[gv])
		}
	}
}

// TestManifestsRoundTrip decodes Karmada-style manifests (among them the two of WALKTHROUGH.md)
// strictly into the Go types, so an unknown or misspelt field fails, and checks that encoding the
// Go object again keeps every field and value.
func TestManifestsRoundTrip(t *testing.T) {
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			in, err := yaml.YAMLToJSON(data)
			if err != nil {
				t.Fatal(err)
			}
			var tm metav1.TypeMeta
			if err := json.Unmarshal(in, &tm); err != nil {
				t.Fatal(err)
			}
			obj, err := s.New(tm.GroupVersionKind())
			if err != nil {
				t.Fatalf("kind %s: %v", tm.GroupVersionKind(), err)
			}
			strict, err := sigsjson.UnmarshalStrict(in, obj)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			for _, e := range strict {
				t.Errorf("strict decoding: %v", e)
			}
			out, err := json.Marshal(obj)
			if err != nil {
				t.Fatal(err)
			}
			var want, got any
			if err := json.Unmarshal(in, &want); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			compare(t, "", want, got)

			// A deep copy encodes the same.
			cp, err := json.Marshal(obj.DeepCopyObject())
			if err != nil {
				t.Fatal(err)
			}
			if string(cp) != string(out) {
				t.Errorf("deep copy encodes differently:\n%s\n%s", out, cp)
			}
		})
	}
}

// compare reports fields of want that got lost or changed in got, and non-empty fields that got
// added. Encoding may drop zero values (omitempty: false, 0, "") and add empty ones (such as
// "placement": {} or "creationTimestamp": null).
func compare(t *testing.T, path string, want, got any) {
	t.Helper()
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			t.Errorf("%s: got %v, want an object", path, got)
			return
		}
		for k, v := range w {
			gv, ok := g[k]
			if !ok && !zero(v) {
				t.Errorf("%s.%s: lost", path, k)
				continue
			}
			if !ok {
				continue
			}
			compare(t, path+"."+k, v, gv)
		}
		for k, v := range g {
			if _, ok := w[k]; !ok && !empty(v) {
				t.Errorf("%s.%s: added %v", path, k, v)
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			t.Errorf("%s: got %v, want %v", path, got, want)
			return
		}
		for i := range w {
			compare(t, fmt.Sprintf("%s[%d]", path, i), w[i], g[i])
		}
	default:
		if !reflect.DeepEqual(want, got) {
			t.Errorf("%s: got %#v, want %#v", path, got, want)
		}
	}
}

func zero(v any) bool {
	return v == false || v == float64(0) || v == ""
}

func empty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case map[string]any:
		for _, e := range v {
			if !empty(e) {
				return false
			}
		}
		return true
	}
	return false
}

// TestDeepCopy fills every kind with random values and checks that DeepCopyObject returns an
// equal object that shares no memory with the original.
func TestDeepCopy(t *testing.T) {
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	filler := randfill.New().NilChance(0.2).NumElements(1, 3).Funcs(
		func(j *policyv1alpha1.JSON, c randfill.Continue) {
			j.Raw, _ = json.Marshal(map[string]any{"k": c.String(0), "n": c.Int63()})
		},
		func(r *runtime.RawExtension, c randfill.Continue) {
			r.Raw, _ = json.Marshal(map[string]any{"replicas": c.Int31()})
		},
		func(q *resource.Quantity, c randfill.Continue) {
			*q = *resource.NewMilliQuantity(c.Int63n(1<<40), resource.DecimalSI)
		},
		func(tm *metav1.Time, c randfill.Continue) {
			*tm = metav1.Unix(c.Int63n(1<<32), 0)
		},
	)
	for _, gv := range GroupVersions() {
		for kind, typ := range s.KnownTypes(gv) {
			if typ.PkgPath() == "k8s.io/apimachinery/pkg/apis/meta/v1" {
				continue
			}
			t.Run(kind, func(t *testing.T) {
				for range 20 {
					obj := reflect.New(typ).Interface().(runtime.Object)
					filler.Fill(obj)
					cp := obj.DeepCopyObject()
					if !reflect.DeepEqual(obj, cp) {
						t.Fatalf("DeepCopyObject differs:\n%#v\n%#v", obj, cp)
					}
					noSharing(t, kind, reflect.ValueOf(obj), reflect.ValueOf(cp))
				}
			})
		}
	}
}

var timeType = reflect.TypeFor[time.Time]()

// noSharing fails if a and b (deep-equal values) share a pointer, slice array or map.
func noSharing(t *testing.T, path string, a, b reflect.Value) {
	t.Helper()
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() {
			return
		}
		if a.Pointer() == b.Pointer() {
			t.Errorf("%s: pointer shared", path)
			return
		}
		noSharing(t, path, a.Elem(), b.Elem())
	case reflect.Interface:
		if !a.IsNil() {
			noSharing(t, path, a.Elem(), b.Elem())
		}
	case reflect.Slice:
		if a.Len() == 0 {
			return
		}
		if a.Pointer() == b.Pointer() {
			t.Errorf("%s: slice shared", path)
			return
		}
		for i := range a.Len() {
			noSharing(t, fmt.Sprintf("%s[%d]", path, i), a.Index(i), b.Index(i))
		}
	case reflect.Map:
		if a.Len() == 0 {
			return
		}
		if a.Pointer() == b.Pointer() {
			t.Errorf("%s: map shared", path)
			return
		}
		for _, k := range a.MapKeys() {
			noSharing(t, fmt.Sprintf("%s[%v]", path, k), a.MapIndex(k), b.MapIndex(k))
		}
	case reflect.Struct:
		if a.Type() == timeType {
			return // time.Time shares its *Location by design.
		}
		for i := range a.NumField() {
			noSharing(t, path+"."+a.Type().Field(i).Name, a.Field(i), b.Field(i))
		}
	}
}
