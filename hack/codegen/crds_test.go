package codegen

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/install"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	crdvalidation "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

const (
	crdDir     = "../../apis/crds"
	samplesDir = "../../apis/scheme/testdata"
)

// crd is one generated CRD, validated, with what is needed to validate objects of its kind.
type crd struct {
	kind       string
	structural *structuralschema.Structural
	validator  validation.SchemaValidator
}

// loadCRDs decodes every generated CRD strictly, validates it as kube-apiserver does on create,
// and builds its structural schema and validator.
func loadCRDs(t *testing.T) map[string]crd {
	t.Helper()
	scheme := runtime.NewScheme()
	install.Install(scheme)
	files, err := filepath.Glob(filepath.Join(crdDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs in %s: %v", crdDir, err)
	}
	out := map[string]crd{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		v1 := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(data, v1); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		scheme.Default(v1)
		in := &apiextensions.CustomResourceDefinition{}
		if err := scheme.Convert(v1, in, nil); err != nil {
			t.Fatalf("%s: convert: %v", f, err)
		}
		for _, v := range in.Spec.Versions {
			if v.Storage {
				in.Status.StoredVersions = append(in.Status.StoredVersions, v.Name)
			}
		}
		if errs := crdvalidation.ValidateCustomResourceDefinition(context.Background(), in); len(errs) > 0 {
			t.Errorf("%s is not a valid CRD:\n%v", v1.Name, errs.ToAggregate())
			continue
		}
		validationSchema := in.Spec.Validation
		if validationSchema == nil {
			validationSchema = in.Spec.Versions[0].Schema
		}
		s, err := structuralschema.NewStructural(validationSchema.OpenAPIV3Schema)
		if err != nil {
			t.Fatalf("%s: structural: %v", v1.Name, err)
		}
		validator, _, err := validation.NewSchemaValidator(validationSchema.OpenAPIV3Schema)
		if err != nil {
			t.Fatalf("%s: validator: %v", v1.Name, err)
		}
		out[in.Spec.Names.Kind] = crd{kind: in.Spec.Names.Kind, structural: s, validator: validator}
	}
	return out
}

// admit prunes, defaults and validates obj as kube-apiserver would on create; it returns the
// pruned field paths and the validation errors.
func (c crd) admit(obj map[string]any) (pruned []string, errs []string) {
	pruned = pruning.PruneWithOptions(obj, c.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	defaulting.Default(obj, c.structural)
	for _, e := range validation.ValidateCustomResource(nil, obj, c.validator) {
		errs = append(errs, e.Error())
	}
	return pruned, errs
}

func decode(t *testing.T, data []byte) map[string]any {
	t.Helper()
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(js); err != nil {
		t.Fatal(err)
	}
	return u.Object
}

func TestCRDsAreValid(t *testing.T) {
	crds := loadCRDs(t)
	want := []string{"Cluster", "ClusterOverridePolicy", "ClusterPropagationPolicy", "ClusterResourceBinding",
		"OverridePolicy", "PropagationPolicy", "ResourceBinding"}
	var got []string
	for k := range crds {
		got = append(got, k)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("CRD kinds = %v, want %v", got, want)
	}
}

// TestSamples admits every sample manifest: nothing may be pruned and nothing may fail validation.
func TestSamples(t *testing.T) {
	crds := loadCRDs(t)
	files, err := filepath.Glob(filepath.Join(samplesDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples in %s: %v", samplesDir, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			obj := decode(t, data)
			c, ok := crds[obj["kind"].(string)]
			if !ok {
				t.Fatalf("no CRD for kind %v", obj["kind"])
			}
			pruned, errs := c.admit(obj)
			if len(pruned) > 0 {
				t.Errorf("pruned fields: %v", pruned)
			}
			if len(errs) > 0 {
				t.Errorf("invalid:\n%s", strings.Join(errs, "\n"))
			}
		})
	}
}

// TestDefaults checks the defaults kube-apiserver applies to the WALKTHROUGH.md PropagationPolicy.
func TestDefaults(t *testing.T) {
	crds := loadCRDs(t)
	data, err := os.ReadFile(filepath.Join(samplesDir, "walkthrough-propagationpolicy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	obj := decode(t, data)
	if _, errs := crds["PropagationPolicy"].admit(obj); len(errs) > 0 {
		t.Fatal(errs)
	}
	spec := obj["spec"].(map[string]any)
	for k, want := range map[string]any{
		"conflictResolution": "Abort",
		"preemption":         "Never",
		"priority":           int64(0),
		"schedulerName":      "default-scheduler",
	} {
		if spec[k] != want {
			t.Errorf("spec.%s = %#v, want default %#v", k, spec[k], want)
		}
	}
	if _, ok := spec["placement"].(map[string]any)["replicaScheduling"]; ok {
		t.Error("spec.placement.replicaScheduling defaulted; its absence means Duplicated")
	}
}

// TestRejected checks that invalid Karmada manifests are refused by the schema alone.
func TestRejected(t *testing.T) {
	crds := loadCRDs(t)
	tests := []struct {
		name, kind, yaml, wantErr string
	}{
		{"no selectors", "PropagationPolicy", `spec: {resourceSelectors: []}`, "spec.resourceSelectors"},
		{"selector without kind", "PropagationPolicy", `spec: {resourceSelectors: [{apiVersion: v1}]}`, "spec.resourceSelectors[0].kind"},
		{"conflict resolution", "PropagationPolicy", `spec: {resourceSelectors: [{apiVersion: v1, kind: Pod}], conflictResolution: Replace}`, "spec.conflictResolution"},
		{"preemption", "ClusterPropagationPolicy", `spec: {resourceSelectors: [{apiVersion: v1, kind: Pod}], preemption: Sometimes}`, "spec.preemption"},
		{"weight 0", "PropagationPolicy", `spec: {resourceSelectors: [{apiVersion: v1, kind: Pod}], placement: {replicaScheduling: {weightPreference: {staticWeightList: [{targetCluster: {}, weight: 0}]}}}}`, "weight"},
		{"division preference", "PropagationPolicy", `spec: {resourceSelectors: [{apiVersion: v1, kind: Pod}], placement: {replicaScheduling: {replicaDivisionPreference: Even}}}`, "replicaDivisionPreference"},
		{"affinity name too long", "PropagationPolicy", `spec: {resourceSelectors: [{apiVersion: v1, kind: Pod}], placement: {clusterAffinities: [{affinityName: ` + strings.Repeat("a", 33) + `}]}}`, "affinityName"},
		{"spread field", "PropagationPolicy", `spec: {resourceSelectors: [{apiVersion: v1, kind: Pod}], placement: {spreadConstraints: [{spreadByField: rack}]}}`, "spreadByField"},
		{"image component", "OverridePolicy", `spec: {overrideRules: [{overriders: {imageOverrider: [{component: Digest, operator: replace}]}}]}`, "component"},
		{"rule without overriders", "ClusterOverridePolicy", `spec: {overrideRules: [{targetCluster: {clusterNames: [a]}}]}`, "overriders"},
		{"sync mode", "Cluster", `spec: {syncMode: Both}`, "spec.syncMode"},
		{"no sync mode", "Cluster", `spec: {apiEndpoint: "https://x"}`, "spec.syncMode"},
		{"health", "ResourceBinding", "spec: {resource: {apiVersion: v1, kind: Pod, name: p}}\nstatus: {aggregatedStatus: [{clusterName: a, health: Fine}]}", "health"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := decode(t, []byte("apiVersion: x/v1\nkind: "+tt.kind+"\nmetadata: {name: x}\n"+tt.yaml))
			_, errs := crds[tt.kind].admit(obj)
			if !slices.ContainsFunc(errs, func(e string) bool { return strings.Contains(e, tt.wantErr) }) {
				t.Errorf("errors %q, want one about %s", errs, tt.wantErr)
			}
		})
	}
}
