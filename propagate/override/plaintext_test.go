package override

import (
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
)

// absent marks a path that must not exist.
type absent struct{}

// runCases applies each case's overriders to a fresh copy of base and checks the wanted paths,
// or that the error contains wantErr.
type applyCase struct {
	name    string
	base    string // YAML; deploymentYAML when empty
	o       policyv1alpha1.Overriders
	want    map[string]any
	wantErr string
}

func runCases(t *testing.T, cases []applyCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			base := tt.base
			if base == "" {
				base = deploymentYAML
			}
			in := mustObject(t, base)
			before := in.DeepCopy()
			out, applied, err := Apply(in, rules(tt.o))
			if !reflect.DeepEqual(in.Object, before.Object) {
				t.Fatalf("Apply changed its input")
			}
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("Apply succeeded, want error containing %q", tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %q does not contain %q", err, tt.wantErr)
				}
				if out != nil || applied != nil {
					t.Fatalf("Apply returned an object or record with an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if len(applied) != 1 {
				t.Fatalf("applied = %v, want one rule", applied)
			}
			checkPaths(t, out, tt.want)
		})
	}
}

func checkPaths(t *testing.T, out *unstructured.Unstructured, want map[string]any) {
	t.Helper()
	for path, w := range want {
		if _, ok := w.(absent); ok {
			if has(out, path) {
				t.Errorf("%s = %#v, want absent", path, get(t, out, path))
			}
			continue
		}
		if got := get(t, out, path); !reflect.DeepEqual(got, w) {
			t.Errorf("%s = %#v, want %#v", path, got, w)
		}
	}
}

func plaintext(path string, op policyv1alpha1.OverriderOperator, value string) policyv1alpha1.PlaintextOverrider {
	p := policyv1alpha1.PlaintextOverrider{Path: path, Operator: op}
	if value != "" {
		p.Value = raw(value)
	}
	return p
}

const (
	opAdd     = policyv1alpha1.OverriderOpAdd
	opRemove  = policyv1alpha1.OverriderOpRemove
	opReplace = policyv1alpha1.OverriderOpReplace
)

func plain(ps ...policyv1alpha1.PlaintextOverrider) policyv1alpha1.Overriders {
	return policyv1alpha1.Overriders{Plaintext: ps}
}

func TestApplyPlaintext(t *testing.T) {
	runCases(t, []applyCase{
		{name: "replace replicas", o: plain(plaintext("/spec/replicas", opReplace, "5")), want: map[string]any{"/spec/replicas": int64(5)}},
		{name: "replace with float", o: plain(plaintext("/spec/replicas", opReplace, "1.5")), want: map[string]any{"/spec/replicas": 1.5}},
		{name: "replace with object", o: plain(plaintext("/spec/strategy", opReplace, `{"type":"Recreate"}`)), want: map[string]any{"/spec/strategy": map[string]any{"type": "Recreate"}, "/spec/strategy/rollingUpdate": absent{}}},
		{name: "add new key", o: plain(plaintext("/spec/minReadySeconds", opAdd, "10")), want: map[string]any{"/spec/minReadySeconds": int64(10)}},
		{name: "add overwrites", o: plain(plaintext("/spec/replicas", opAdd, "7")), want: map[string]any{"/spec/replicas": int64(7)}},
		{name: "add null", o: plain(plaintext("/spec/paused", opAdd, "false")), want: map[string]any{"/spec/paused": false}},
		{name: "add array element inserts", o: plain(plaintext("/spec/template/spec/containers/0/args/0", opAdd, `"-v"`)), want: map[string]any{"/spec/template/spec/containers/0/args": []any{"-v", "-g", "daemon off;"}}},
		{name: "add array end", o: plain(plaintext("/spec/template/spec/containers/0/args/-", opAdd, `"-q"`)), want: map[string]any{"/spec/template/spec/containers/0/args": []any{"-g", "daemon off;", "-q"}}},
		{name: "add at length", o: plain(plaintext("/spec/template/spec/containers/0/args/2", opAdd, `"-q"`)), want: map[string]any{"/spec/template/spec/containers/0/args/2": "-q"}},
		{name: "add negative index", o: plain(plaintext("/spec/template/spec/containers/0/args/-1", opAdd, `"-q"`)), want: map[string]any{"/spec/template/spec/containers/0/args": []any{"-g", "daemon off;", "-q"}}},
		{name: "add past end", o: plain(plaintext("/spec/template/spec/containers/0/args/3", opAdd, `"-q"`)), wantErr: `overrideRules[0].overriders.plaintext[0]: path "/spec/template/spec/containers/0/args/3": array index 3 out of range (length 3)`},
		{name: "add whole container", o: plain(plaintext("/spec/template/spec/containers/-", opAdd, `{"name":"sidecar","image":"envoy:v1"}`)), want: map[string]any{"/spec/template/spec/containers/2/name": "sidecar"}},
		{name: "add missing parent", o: plain(plaintext("/spec/nope/x", opAdd, "1")), wantErr: `path "/spec/nope/x" not found`},
		{name: "replace array element", o: plain(plaintext("/spec/template/spec/containers/1/image", opReplace, `"x:1"`)), want: map[string]any{"/spec/template/spec/containers/1/image": "x:1"}},
		{name: "replace negative index", o: plain(plaintext("/spec/template/spec/containers/-1/name", opReplace, `"last"`)), want: map[string]any{"/spec/template/spec/containers/1/name": "last"}},
		{name: "replace missing", o: plain(plaintext("/spec/replicas", opReplace, "1"), plaintext("/spec/nope", opReplace, "1")), wantErr: `OverridePolicy default/test: overrideRules[0].overriders.plaintext[1]: path "/spec/nope" not found`},
		{name: "replace out of range", o: plain(plaintext("/spec/template/spec/containers/5/image", opReplace, `"x"`)), wantErr: `array index 5 out of range`},
		{name: "replace with dash", o: plain(plaintext("/spec/template/spec/containers/-/image", opReplace, `"x"`)), wantErr: `"-" is not an array index`},
		{name: "replace through a scalar", o: plain(plaintext("/spec/replicas/x", opReplace, "1")), wantErr: `path "/spec/replicas/x" not found`},
		{name: "remove key", o: plain(plaintext("/spec/strategy/rollingUpdate", opRemove, "")), want: map[string]any{"/spec/strategy/rollingUpdate": absent{}, "/spec/strategy/type": "RollingUpdate"}},
		{name: "remove array element", o: plain(plaintext("/spec/template/spec/containers/0", opRemove, "")), want: map[string]any{"/spec/template/spec/containers/0/name": "exporter", "/spec/template/spec/containers/1": absent{}}},
		{name: "remove missing", o: plain(plaintext("/spec/paused", opRemove, "")), wantErr: `path "/spec/paused" not found`},
		{name: "escaped pointer", o: plain(plaintext("/metadata/labels/app.kubernetes.io~1name", opReplace, `"web"`)), want: map[string]any{"/metadata/labels/app.kubernetes.io~1name": "web"}},
		{name: "tilde zero", o: plain(plaintext("/metadata/annotations/a~0b", opAdd, `"x"`)), want: map[string]any{"/metadata/annotations/a~0b": "x"}},
		{name: "bad escape", o: plain(plaintext("/metadata/labels/a~2", opAdd, `"x"`)), wantErr: `"~" must be followed by 0 or 1`},
		{name: "not a pointer", o: plain(plaintext("spec/replicas", opReplace, "1")), wantErr: `path "spec/replicas" is not a JSON pointer`},
		{name: "whole object", o: plain(plaintext("", opReplace, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}`)), want: map[string]any{"/kind": "ConfigMap", "/spec": absent{}}},
		{name: "whole object not an object", o: plain(plaintext("", opReplace, `[1]`)), wantErr: "the object must stay a JSON object"},
		{name: "remove whole object", o: plain(plaintext("", opRemove, "")), wantErr: "cannot remove the whole document"},
		{name: "missing value", o: plain(plaintext("/spec/replicas", opReplace, "")), wantErr: "value is required for add and replace"},
		{name: "invalid value", o: plain(plaintext("/spec/replicas", opReplace, "{")), wantErr: "value is not valid JSON"},
		{name: "unknown operator", o: plain(plaintext("/spec/replicas", "move", "1")), wantErr: `unsupported operator "move"`},
		{name: "in order", o: plain(plaintext("/spec/minReadySeconds", opAdd, "1"), plaintext("/spec/minReadySeconds", opReplace, "2")), want: map[string]any{"/spec/minReadySeconds": int64(2)}},
	})
}
