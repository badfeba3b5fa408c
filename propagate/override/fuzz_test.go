package override

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utiljson "k8s.io/apimachinery/pkg/util/json"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
)

// FuzzApply runs the engine on Deployments and overriders built from fuzz bytes. obj is a JSON
// object (used as the Deployment, with apiVersion and kind forced) or, when it is not one, the
// bytes a Deployment is generated from; ops are the bytes the overriders are generated from.
// Apply must never panic, never change its input, be deterministic, and return JSON-compatible
// objects.
func FuzzApply(f *testing.F) {
	f.Fuzz(func(t *testing.T, obj, ops []byte) {
		in := fuzzDeployment(obj)
		rules := fuzzRules(&fuzzBytes{b: ops})
		before := in.DeepCopy()
		out, applied, err := Apply(in, rules...)
		if !reflect.DeepEqual(in.Object, before.Object) {
			t.Fatalf("Apply changed its input")
		}
		out2, _, err2 := Apply(in, rules...)
		if (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) {
			t.Fatalf("not deterministic: %v / %v", err, err2)
		}
		if err != nil {
			if out != nil || applied != nil {
				t.Fatalf("an error with a result")
			}
			return
		}
		if !reflect.DeepEqual(out.Object, out2.Object) {
			t.Fatalf("not deterministic")
		}
		_ = runtime.DeepCopyJSON(out.Object) // panics on values an unstructured object cannot hold
		if _, err := json.Marshal(out.Object); err != nil {
			t.Fatalf("result does not marshal: %v", err)
		}
		_, _ = AppliedAnnotations(applied)
	})
}

type fuzzBytes struct{ b []byte }

func (f *fuzzBytes) next() byte {
	if len(f.b) == 0 {
		return 0
	}
	c := f.b[0]
	f.b = f.b[1:]
	return c
}

func (f *fuzzBytes) intn(n int) int { return int(f.next()) % n }

func (f *fuzzBytes) str() string {
	n := f.intn(24)
	if n > len(f.b) {
		n = len(f.b)
	}
	s := string(f.b[:n])
	f.b = f.b[n:]
	return s
}

// pick returns one of list, or (one time in len(list)+1) a string from the bytes.
func (f *fuzzBytes) pick(list ...string) string {
	if i := f.intn(len(list) + 1); i < len(list) {
		return list[i]
	}
	return f.str()
}

var (
	fuzzImages = []string{"nginx", "nginx:1.27", "registry.k8s.io/pause:3.10", "[::1]:5000/app@sha256:50d858e0985ecc7f60418aaf0cc5ab587f42c2570a884095a9e8ccacd0f6545c", "localhost/a:b", "Bad Image", ""}
	fuzzNames  = []string{"nginx", "exporter", "init", ""}
	fuzzPaths  = []string{
		"", "/", "/spec/replicas", "/spec/template/spec/containers/0/image", "/spec/template/spec/containers/1/args/-",
		"/spec/template/spec/containers/-1", "/spec/template/spec/containers/0/command/0", "/metadata/labels/app",
		"/metadata/annotations/config", "/metadata/annotations/config.yaml", "/metadata/labels/a~1b", "/spec/nope/x",
		"/spec/template/spec/containers/9", "/spec/template/spec/initContainers/0/image", "/spec/strategy", "/metadata", "/x~",
		"/apiVersion", "/kind", "/spec/template/spec/containers/0/ports/0/containerPort", "/spec/template/spec/containers/01/name",
	}
	fuzzSubPaths = []string{"", "/a", "/a/b", "/list/-", "/list/0", "/list/-1", "/a~1b", "/x/y/z", "a"}
	fuzzValues   = []string{"", "1", "-1", "1.5", "1e400", "12345678901234567890", "true", "null", `"x"`, `"1.20"`, `{"a":{"b":1}}`, `[1,"a",null]`, `{`, `"sha256:50d858e0985ecc7f60418aaf0cc5ab587f42c2570a884095a9e8ccacd0f6545c"`}
	fuzzOps      = []string{"add", "remove", "replace", "move"}
	fuzzDocs     = []string{`{"a":{"b":1},"list":[1,2]}`, "a:\n  b: 1\nlist: [1, 2]\n", `[]`, `"s"`, "", "{", "a: [b"}
)

func (f *fuzzBytes) op() policyv1alpha1.OverriderOperator {
	return policyv1alpha1.OverriderOperator(f.pick(fuzzOps...))
}

func (f *fuzzBytes) value() policyv1alpha1.JSON {
	return policyv1alpha1.JSON{Raw: []byte(f.pick(fuzzValues...))}
}

// fuzzDeployment decodes b as a JSON object, or generates a Deployment from b.
func fuzzDeployment(b []byte) *unstructured.Unstructured {
	var m map[string]any
	if err := utiljson.Unmarshal(b, &m); err == nil && m != nil {
		u := &unstructured.Unstructured{Object: m}
		u.SetAPIVersion("apps/v1")
		u.SetKind("Deployment")
		return u
	}
	f := &fuzzBytes{b: b}
	var containers []any
	for i := f.intn(4); i > 0; i-- {
		c := map[string]any{"name": f.pick(fuzzNames...), "image": f.pick(fuzzImages...)}
		if f.intn(2) == 0 {
			c["command"] = []any{f.str(), f.str()}
		}
		if f.intn(2) == 0 {
			c["args"] = []any{f.pick("-v", "daemon off;"), int64(f.intn(3))}
		}
		containers = append(containers, c)
	}
	meta := map[string]any{"name": "d", "namespace": "default"}
	if f.intn(2) == 0 {
		meta["labels"] = map[string]any{"app": f.str(), f.str(): f.str()}
	}
	if f.intn(2) == 0 {
		meta["annotations"] = map[string]any{"config": f.pick(fuzzDocs...), "config.yaml": f.pick(fuzzDocs...)}
	}
	podSpec := map[string]any{"containers": containers, "initContainers": []any{map[string]any{"name": "init", "image": f.pick(fuzzImages...)}}}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1",
		"kind":       "Deployment",
		"metadata":   meta,
		"spec": map[string]any{
			"replicas": int64(f.intn(5)),
			"strategy": map[string]any{"type": "RollingUpdate"},
			"template": map[string]any{"spec": podSpec},
		},
	}}
}

// fuzzRules generates up to three policies of up to two rules each, with up to two overriders
// of every kind.
func fuzzRules(f *fuzzBytes) []Applicable {
	var out []Applicable
	for p := f.intn(4); p > 0; p-- {
		a := Applicable{Policy: PolicyRef{Kind: policyv1alpha1.ResourceKindOverridePolicy, Namespace: "default", Name: fmt.Sprint("p", p)}}
		for r := f.intn(3); r > 0; r-- {
			o := &policyv1alpha1.Overriders{}
			for i := f.intn(3); i > 0; i-- {
				io := policyv1alpha1.ImageOverrider{Component: policyv1alpha1.ImageComponent(f.pick("Registry", "Repository", "Tag")), Operator: f.op(), Value: f.pick("1.20", "-x", "reg.io:5000", "sha256:50d858e0985ecc7f60418aaf0cc5ab587f42c2570a884095a9e8ccacd0f6545c")}
				if f.intn(3) == 0 {
					io.Predicate = &policyv1alpha1.ImagePredicate{Path: f.pick(fuzzPaths...)}
				}
				o.ImageOverrider = append(o.ImageOverrider, io)
			}
			for i := f.intn(3); i > 0; i-- {
				o.CommandOverrider = append(o.CommandOverrider, policyv1alpha1.CommandArgsOverrider{ContainerName: f.pick(fuzzNames...), Operator: f.op(), Value: []string{f.str()}})
			}
			for i := f.intn(3); i > 0; i-- {
				o.ArgsOverrider = append(o.ArgsOverrider, policyv1alpha1.CommandArgsOverrider{ContainerName: f.pick(fuzzNames...), Operator: f.op(), Value: []string{f.pick("-v"), f.str()}})
			}
			for i := f.intn(3); i > 0; i-- {
				o.LabelsOverrider = append(o.LabelsOverrider, policyv1alpha1.LabelAnnotationOverrider{Operator: f.op(), Value: map[string]string{f.pick("app"): f.str()}})
			}
			for i := f.intn(3); i > 0; i-- {
				o.AnnotationsOverrider = append(o.AnnotationsOverrider, policyv1alpha1.LabelAnnotationOverrider{Operator: f.op(), Value: map[string]string{f.pick("config"): f.str()}})
			}
			for i := f.intn(3); i > 0; i-- {
				fo := policyv1alpha1.FieldOverrider{FieldPath: f.pick(fuzzPaths...)}
				for j := f.intn(3); j > 0; j-- {
					if f.intn(2) == 0 {
						fo.JSON = append(fo.JSON, policyv1alpha1.JSONPatchOperation{SubPath: f.pick(fuzzSubPaths...), Operator: f.op(), Value: f.value()})
					} else {
						fo.YAML = append(fo.YAML, policyv1alpha1.YAMLPatchOperation{SubPath: f.pick(fuzzSubPaths...), Operator: f.op(), Value: f.value()})
					}
				}
				o.FieldOverrider = append(o.FieldOverrider, fo)
			}
			for i := f.intn(4); i > 0; i-- {
				o.Plaintext = append(o.Plaintext, policyv1alpha1.PlaintextOverrider{Path: f.pick(fuzzPaths...), Operator: f.op(), Value: f.value()})
			}
			a.Rules = append(a.Rules, Rule{Index: len(a.Rules), Overriders: o})
		}
		out = append(out, a)
	}
	return out
}
