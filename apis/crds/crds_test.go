package crds

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

type column struct {
	name, jsonPath, typ string
	priority            int64
}

var (
	ageColumn       = column{"AGE", ".metadata.creationTimestamp", "date", 0}
	policyColumns   = []column{{"CONFLICT-RESOLUTION", ".spec.conflictResolution", "string", 0}, {"PRIORITY", ".spec.priority", "integer", 0}, ageColumn}
	bindingColumns  = []column{{"SCHEDULED", `.status.conditions[?(@.type=="Scheduled")].status`, "string", 0}, {"FULLYAPPLIED", `.status.conditions[?(@.type=="FullyApplied")].status`, "string", 0}, ageColumn}
	overrideColumns []column // none: kubectl shows NAME and AGE
)

// want is what each CRD must declare.
var want = []struct {
	name, group, version, kind, plural, scope string
	shortNames                                []string
	columns                                   []column
}{
	{"clusteroverridepolicies.policy.karmada.io", "policy.karmada.io", "v1alpha1", "ClusterOverridePolicy", "clusteroverridepolicies", "Cluster", []string{"cop"}, overrideColumns},
	{"clusterpropagationpolicies.policy.karmada.io", "policy.karmada.io", "v1alpha1", "ClusterPropagationPolicy", "clusterpropagationpolicies", "Cluster", []string{"cpp"}, policyColumns},
	{"clusterresourcebindings.work.karmada.io", "work.karmada.io", "v1alpha2", "ClusterResourceBinding", "clusterresourcebindings", "Cluster", []string{"crb"}, bindingColumns},
	{"clusters.cluster.karmada.io", "cluster.karmada.io", "v1alpha1", "Cluster", "clusters", "Cluster", nil, []column{
		{"VERSION", ".status.kubernetesVersion", "string", 0},
		{"MODE", ".spec.syncMode", "string", 0},
		{"READY", `.status.conditions[?(@.type=="Ready")].status`, "string", 0},
		ageColumn,
		{"API-ENDPOINT", ".spec.apiEndpoint", "string", 1},
	}},
	{"overridepolicies.policy.karmada.io", "policy.karmada.io", "v1alpha1", "OverridePolicy", "overridepolicies", "Namespaced", []string{"op"}, overrideColumns},
	{"propagationpolicies.policy.karmada.io", "policy.karmada.io", "v1alpha1", "PropagationPolicy", "propagationpolicies", "Namespaced", []string{"pp"}, policyColumns},
	{"resourcebindings.work.karmada.io", "work.karmada.io", "v1alpha2", "ResourceBinding", "resourcebindings", "Namespaced", []string{"rb"}, bindingColumns},
}

func TestNames(t *testing.T) {
	var names []string
	for _, w := range want {
		names = append(names, w.name)
	}
	if got := Names(); !slices.Equal(got, names) {
		t.Errorf("Names() = %v, want %v", got, names)
	}
	for _, n := range names {
		if _, err := Manifest(n); err != nil {
			t.Errorf("Manifest(%q): %v", n, err)
		}
	}
	if _, err := Manifest("nope.example.com"); err == nil {
		t.Error("Manifest of an unknown CRD: want an error")
	}
}

func TestCRDs(t *testing.T) {
	objs, err := Objects()
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != len(want) {
		t.Fatalf("%d CRDs embedded, want %d", len(objs), len(want))
	}
	for i, w := range want {
		obj := objs[i]
		t.Run(w.kind, func(t *testing.T) {
			if obj.GetAPIVersion() != "apiextensions.k8s.io/v1" || obj.GetName() != w.name {
				t.Fatalf("got %s %s, want apiextensions.k8s.io/v1 %s", obj.GetAPIVersion(), obj.GetName(), w.name)
			}
			str := func(path ...string) string {
				s, _, _ := unstructured.NestedString(obj.Object, path...)
				return s
			}
			strs := func(path ...string) []string {
				s, _, _ := unstructured.NestedStringSlice(obj.Object, path...)
				return s
			}
			for _, c := range []struct{ got, want, what string }{
				{str("spec", "group"), w.group, "group"},
				{str("spec", "names", "kind"), w.kind, "kind"},
				{str("spec", "names", "listKind"), w.kind + "List", "listKind"},
				{str("spec", "names", "plural"), w.plural, "plural"},
				{str("spec", "scope"), w.scope, "scope"},
			} {
				if c.got != c.want {
					t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
				}
			}
			if got := strs("spec", "names", "shortNames"); !slices.Equal(got, w.shortNames) {
				t.Errorf("shortNames = %v, want %v", got, w.shortNames)
			}
			versions, _, _ := unstructured.NestedSlice(obj.Object, "spec", "versions")
			if len(versions) != 1 {
				t.Fatalf("%d versions, want 1", len(versions))
			}
			v := versions[0].(map[string]any)
			checkVersion(t, v, w.version, w.columns)
		})
	}
}

func checkVersion(t *testing.T, v map[string]any, version string, columns []column) {
	t.Helper()
	if v["name"] != version || v["served"] != true || v["storage"] != true {
		t.Errorf("version %v served=%v storage=%v, want %s served and storage", v["name"], v["served"], v["storage"], version)
	}
	if _, ok, _ := unstructured.NestedMap(v, "subresources", "status"); !ok {
		t.Error("no status subresource")
	}
	var got []column
	cols, _, _ := unstructured.NestedSlice(v, "additionalPrinterColumns")
	for _, c := range cols {
		m := c.(map[string]any)
		p, _ := m["priority"].(int64)
		got = append(got, column{fmt.Sprint(m["name"]), fmt.Sprint(m["jsonPath"]), fmt.Sprint(m["type"]), p})
	}
	if !reflect.DeepEqual(got, columns) {
		t.Errorf("printer columns = %v, want %v", got, columns)
	}
	schema, ok, _ := unstructured.NestedMap(v, "schema", "openAPIV3Schema")
	if !ok {
		t.Fatal("no schema.openAPIV3Schema")
	}
	if schema["type"] != "object" {
		t.Errorf("root schema type = %v, want object", schema["type"])
	}
	for _, p := range []string{"apiVersion", "kind", "metadata", "spec"} {
		if _, ok, _ := unstructured.NestedMap(schema, "properties", p); !ok {
			t.Errorf("root schema has no property %q", p)
		}
	}
	checkStructural(t, "openAPIV3Schema", schema)
}

// checkStructural checks the rules of a structural schema that matter for hand-made mistakes:
// every node has a type (unless it preserves unknown fields or is int-or-string), properties and
// additionalProperties do not mix, required names exist, and fields are described for kubectl
// explain.
func checkStructural(t *testing.T, path string, s map[string]any) {
	t.Helper()
	preserve, _ := s["x-kubernetes-preserve-unknown-fields"].(bool)
	intOrString, _ := s["x-kubernetes-int-or-string"].(bool)
	if _, ok := s["type"]; !ok && !preserve && !intOrString {
		t.Errorf("%s: no type", path)
	}
	props, _ := s["properties"].(map[string]any)
	if _, ok := s["additionalProperties"]; ok && props != nil {
		t.Errorf("%s: both properties and additionalProperties", path)
	}
	for _, r := range toStrings(s["required"]) {
		if _, ok := props[r]; !ok {
			t.Errorf("%s: required %q is not a property", path, r)
		}
	}
	for _, key := range []string{"allOf", "anyOf", "oneOf", "not"} {
		if _, ok := s[key]; ok && !intOrString {
			t.Errorf("%s: %s left in the schema", path, key)
		}
	}
	for name, p := range props {
		child := p.(map[string]any)
		sub := path + "." + name
		if _, ok := child["description"]; !ok && !strings.HasSuffix(path, "openAPIV3Schema") {
			t.Errorf("%s: no description", sub)
		}
		checkStructural(t, sub, child)
	}
	if items, ok := s["items"].(map[string]any); ok {
		checkStructural(t, path+"[]", items)
	}
	if ap, ok := s["additionalProperties"].(map[string]any); ok {
		checkStructural(t, path+"{}", ap)
	}
}

func toStrings(v any) []string {
	var out []string
	if l, ok := v.([]any); ok {
		for _, e := range l {
			out = append(out, fmt.Sprint(e))
		}
	}
	return out
}

// TestValidation checks the validation and defaulting details Karmada manifests rely on.
func TestValidation(t *testing.T) {
	objs, err := Objects()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		byName[o.GetName()] = o
	}
	placement := "spec.placement"
	policies := []string{"propagationpolicies.policy.karmada.io", "clusterpropagationpolicies.policy.karmada.io"}
	bindings := []string{"resourcebindings.work.karmada.io", "clusterresourcebindings.work.karmada.io"}
	overrides := []string{"overridepolicies.policy.karmada.io", "clusteroverridepolicies.policy.karmada.io"}
	type check struct {
		crds  []string
		path  string // dotted; [] steps into items
		key   string
		value any
	}
	checks := []check{
		{policies, "spec.conflictResolution", "default", "Abort"},
		{policies, "spec.conflictResolution", "enum", []any{"Abort", "Overwrite"}},
		{policies, "spec.preemption", "default", "Never"},
		{policies, "spec.preemption", "enum", []any{"Always", "Never"}},
		{policies, "spec.priority", "default", int64(0)},
		{policies, "spec.resourceSelectors", "minItems", int64(1)},
		{policies, "spec", "required", []any{"resourceSelectors"}},
		{policies, "spec.activationPreference", "enum", []any{"Lazy"}},
		{policies, "spec.suspension.dispatching", "type", "boolean"},
		{policies, placement + ".clusterAffinities[].affinityName", "maxLength", int64(32)},
		{policies, placement + ".clusterAffinities[]", "required", []any{"affinityName"}},
		{policies, placement + ".clusterAffinities[].exclude", "type", "array"},
		{policies, placement + ".clusterAffinity.exclude", "type", "array"},
		{policies, placement + ".clusterAffinity.fieldSelector.matchExpressions[]", "required", []any{"key", "operator"}},
		{policies, placement + ".spreadConstraints[].spreadByField", "enum", []any{"cluster", "region", "zone", "provider"}},
		{policies, placement + ".spreadConstraints[].minGroups", "type", "integer"},
		{policies, placement + ".replicaScheduling.replicaSchedulingType", "enum", []any{"Duplicated", "Divided"}},
		{policies, placement + ".replicaScheduling.replicaDivisionPreference", "enum", []any{"Aggregated", "Weighted"}},
		{policies, placement + ".replicaScheduling.weightPreference.staticWeightList[].weight", "minimum", int64(1)},
		{policies, placement + ".replicaScheduling.weightPreference.dynamicWeight", "enum", []any{"AvailableReplicas"}},
		{policies, placement + ".clusterTolerations[].effect", "type", "string"},
		{overrides, "spec.overrideRules[]", "required", []any{"overriders"}},
		{overrides, "spec.overrideRules[].overriders.imageOverrider[].component", "enum", []any{"Registry", "Repository", "Tag"}},
		{overrides, "spec.overrideRules[].overriders.imageOverrider[].operator", "enum", []any{"add", "remove", "replace"}},
		{overrides, "spec.overrideRules[].overriders.commandOverrider[].operator", "enum", []any{"add", "remove"}},
		{overrides, "spec.overrideRules[].overriders.plaintext[].value", "x-kubernetes-preserve-unknown-fields", true},
		{overrides, "spec.overrideRules[].overriders.fieldOverrider[].yaml[].value", "x-kubernetes-preserve-unknown-fields", true},
		{overrides, "spec.overriders.labelsOverrider[].operator", "enum", []any{"add", "remove", "replace"}},
		{overrides, "spec.targetCluster.clusterNames", "type", "array"},
		{bindings, "spec", "required", []any{"resource"}},
		{bindings, "spec.resource", "required", []any{"apiVersion", "kind", "name"}},
		{bindings, "spec.conflictResolution", "default", "Abort"},
		{bindings, "spec.placement.clusterAffinities[].affinityName", "maxLength", int64(32)},
		{bindings, "status.aggregatedStatus[].health", "enum", []any{"Healthy", "Unhealthy", "Unknown"}},
		{bindings, "status.aggregatedStatus[].status", "x-kubernetes-preserve-unknown-fields", true},
		{bindings, "status.conditions[]", "required", []any{"lastTransitionTime", "message", "reason", "status", "type"}},
		{[]string{"clusters.cluster.karmada.io"}, "spec.syncMode", "enum", []any{"Push", "Pull"}},
		{[]string{"clusters.cluster.karmada.io"}, "spec", "required", []any{"syncMode"}},
		{[]string{"clusters.cluster.karmada.io"}, "spec.secretRef", "required", []any{"name", "namespace"}},
		{[]string{"clusters.cluster.karmada.io"}, "spec.taints[]", "required", []any{"effect", "key"}},
		{[]string{"clusters.cluster.karmada.io"}, "status.resourceSummary.allocatable.additionalProperties", "x-kubernetes-int-or-string", true},
		{[]string{"clusters.cluster.karmada.io"}, "status.nodeSummary.readyNum", "format", "int32"},
	}
	for _, c := range checks {
		for _, name := range c.crds {
			s := schemaAt(t, byName[name], c.path)
			if s == nil {
				continue
			}
			if got := s[c.key]; !reflect.DeepEqual(got, c.value) {
				t.Errorf("%s %s: %s = %#v, want %#v", name, c.path, c.key, got, c.value)
			}
		}
	}
}

// schemaAt returns the schema node at a dotted path ("a.b[].c"; a step named additionalProperties
// steps into it).
func schemaAt(t *testing.T, crd *unstructured.Unstructured, path string) map[string]any {
	t.Helper()
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	s, _, _ := unstructured.NestedMap(versions[0].(map[string]any), "schema", "openAPIV3Schema")
	for _, step := range strings.Split(path, ".") {
		items := strings.HasSuffix(step, "[]")
		step = strings.TrimSuffix(step, "[]")
		props, _ := s["properties"].(map[string]any)
		next, ok := props[step].(map[string]any)
		if step == "additionalProperties" {
			next, ok = s["additionalProperties"].(map[string]any)
		}
		if !ok {
			t.Errorf("%s: no schema at %s (missing %q)", crd.GetName(), path, step)
			return nil
		}
		s = next
		if items {
			if s, ok = s["items"].(map[string]any); !ok {
				t.Errorf("%s: %s is not an array", crd.GetName(), path)
				return nil
			}
		}
	}
	return s
}
