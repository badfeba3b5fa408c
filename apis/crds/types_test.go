package crds

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	workv1alpha2 "github.com/fleetgate/fleetgate/apis/work/v1alpha2"
)

const module = "github.com/fleetgate/fleetgate/"

// TestSchemasMatchGoTypes fails when the Go types and the generated CRDs disagree on field names,
// i.e. when someone changed apis/ without running hack/generate.sh.
func TestSchemasMatchGoTypes(t *testing.T) {
	types := map[string]any{
		"clusters.cluster.karmada.io":                  clusterv1alpha1.Cluster{},
		"propagationpolicies.policy.karmada.io":        policyv1alpha1.PropagationPolicy{},
		"clusterpropagationpolicies.policy.karmada.io": policyv1alpha1.ClusterPropagationPolicy{},
		"overridepolicies.policy.karmada.io":           policyv1alpha1.OverridePolicy{},
		"clusteroverridepolicies.policy.karmada.io":    policyv1alpha1.ClusterOverridePolicy{},
		"resourcebindings.work.karmada.io":             workv1alpha2.ResourceBinding{},
		"clusterresourcebindings.work.karmada.io":      workv1alpha2.ClusterResourceBinding{},
	}
	objs, err := Objects()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		typ, ok := types[o.GetName()]
		if !ok {
			t.Errorf("CRD %s has no Go type in this test", o.GetName())
			continue
		}
		versions, _, _ := unstructured.NestedSlice(o.Object, "spec", "versions")
		schema, _, _ := unstructured.NestedMap(versions[0].(map[string]any), "schema", "openAPIV3Schema")
		compareType(t, o.GetName(), reflect.TypeOf(typ), schema)
	}
}

var marshalerType = reflect.TypeFor[json.Marshaler]()

func compareType(t *testing.T, path string, typ reflect.Type, s map[string]any) {
	t.Helper()
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	switch typ.Kind() {
	case reflect.Slice:
		if typ.Elem().Kind() == reflect.Uint8 {
			return
		}
		items, ok := s["items"].(map[string]any)
		if !ok {
			t.Errorf("%s: Go slice, schema has no items", path)
			return
		}
		compareType(t, path+"[]", typ.Elem(), items)
	case reflect.Map:
		ap, ok := s["additionalProperties"].(map[string]any)
		if !ok {
			t.Errorf("%s: Go map, schema has no additionalProperties", path)
			return
		}
		compareType(t, path+"{}", typ.Elem(), ap)
	case reflect.Struct:
		if !strings.HasPrefix(typ.PkgPath(), module) || typ.Implements(marshalerType) {
			return // Kubernetes types and custom JSON types: trust controller-gen.
		}
		props, _ := s["properties"].(map[string]any)
		fields := jsonFields(typ)
		for name, ft := range fields {
			child, ok := props[name].(map[string]any)
			if !ok {
				t.Errorf("%s.%s: in the Go type, not in the CRD (run hack/generate.sh)", path, name)
				continue
			}
			if name != "metadata" {
				compareType(t, path+"."+name, ft, child)
			}
		}
		for name := range props {
			if _, ok := fields[name]; !ok {
				t.Errorf("%s.%s: in the CRD, not in the Go type (run hack/generate.sh)", path, name)
			}
		}
	}
}

// jsonFields returns the JSON field names of a struct and their types, with inline structs
// flattened.
func jsonFields(typ reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range typ.NumField() {
		f := typ.Field(i)
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" && (f.Anonymous || slices.Contains(strings.Split(opts, ","), "inline")) {
			for n, t := range jsonFields(f.Type) {
				out[n] = t
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}
