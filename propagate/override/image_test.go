package override

import (
	"fmt"
	"testing"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
)

func img(component policyv1alpha1.ImageComponent, op policyv1alpha1.OverriderOperator, value string) policyv1alpha1.Overriders {
	return policyv1alpha1.Overriders{ImageOverrider: []policyv1alpha1.ImageOverrider{{Component: component, Operator: op, Value: value}}}
}

func imgAt(path string, component policyv1alpha1.ImageComponent, op policyv1alpha1.OverriderOperator, value string) policyv1alpha1.Overriders {
	return policyv1alpha1.Overriders{ImageOverrider: []policyv1alpha1.ImageOverrider{{Predicate: &policyv1alpha1.ImagePredicate{Path: path}, Component: component, Operator: op, Value: value}}}
}

const (
	c0 = "/spec/template/spec/containers/0/image"
	c1 = "/spec/template/spec/containers/1/image"
	i0 = "/spec/template/spec/initContainers/0/image"
)

func TestApplyImage(t *testing.T) {
	runCases(t, []applyCase{
		{name: "tag replace every container", o: img(policyv1alpha1.Tag, opReplace, "1.20"), want: map[string]any{c0: "nginx:1.20", c1: "quay.io/prometheus/nginx-exporter:1.20", i0: "busybox:1.36"}},
		{name: "tag add", o: img(policyv1alpha1.Tag, opAdd, "-alpine"), want: map[string]any{c0: "nginx:1.27-alpine", c1: "quay.io/prometheus/nginx-exporter:v1.3.0-alpine"}},
		{name: "tag remove", o: img(policyv1alpha1.Tag, opRemove, ""), want: map[string]any{c0: "nginx", c1: "quay.io/prometheus/nginx-exporter"}},
		{name: "tag digest", o: img(policyv1alpha1.Tag, opReplace, "sha256:50d858e0985ecc7f60418aaf0cc5ab587f42c2570a884095a9e8ccacd0f6545c"), want: map[string]any{c0: "nginx@sha256:50d858e0985ecc7f60418aaf0cc5ab587f42c2570a884095a9e8ccacd0f6545c"}},
		{name: "registry replace", o: img(policyv1alpha1.Registry, opReplace, "mirror.example.com:5000"), want: map[string]any{c0: "mirror.example.com:5000/nginx:1.27", c1: "mirror.example.com:5000/prometheus/nginx-exporter:v1.3.0", i0: "busybox:1.36"}},
		{name: "registry add", o: imgAt(c1, policyv1alpha1.Registry, opAdd, "-cn"), want: map[string]any{c0: "nginx:1.27", c1: "quay.io-cn/prometheus/nginx-exporter:v1.3.0"}},
		{name: "registry add to none", o: img(policyv1alpha1.Registry, opAdd, "-cn"), wantErr: `add Registry "-cn" turns "nginx:1.27" into "-cn/nginx:1.27"`},
		{name: "registry remove", o: img(policyv1alpha1.Registry, opRemove, ""), want: map[string]any{c0: "nginx:1.27", c1: "prometheus/nginx-exporter:v1.3.0"}},
		{name: "repository replace", o: img(policyv1alpha1.Repository, opReplace, "library/app"), want: map[string]any{c0: "library/app:1.27", c1: "quay.io/library/app:v1.3.0"}},
		{name: "repository add", o: img(policyv1alpha1.Repository, opAdd, "-debug"), want: map[string]any{c0: "nginx-debug:1.27"}},
		{name: "repository remove is invalid", o: img(policyv1alpha1.Repository, opRemove, ""), wantErr: `imageOverrider[0]: /spec/template/spec/containers/0/image: remove Repository "" turns "nginx:1.27" into ":1.27"`},
		{name: "invalid tag", o: img(policyv1alpha1.Tag, opReplace, "a/b"), wantErr: `overrideRules[0].overriders.imageOverrider[0]: /spec/template/spec/containers/0/image: invalid tag "a/b"`},
		{name: "unknown component", o: img("Digest", opReplace, "x"), wantErr: `unsupported component "Digest"`},
		{name: "unknown operator", o: img(policyv1alpha1.Tag, "set", "x"), wantErr: `unsupported operator "set"`},
		{name: "predicate", o: imgAt(c1, policyv1alpha1.Tag, opReplace, "v2"), want: map[string]any{c0: "nginx:1.27", c1: "quay.io/prometheus/nginx-exporter:v2"}},
		{name: "predicate on init container", o: imgAt(i0, policyv1alpha1.Registry, opReplace, "reg.io"), want: map[string]any{c0: "nginx:1.27", i0: "reg.io/busybox:1.36"}},
		{name: "predicate missing", o: imgAt("/spec/template/spec/containers/5/image", policyv1alpha1.Tag, opReplace, "v2"), wantErr: `imageOverrider[0]: path "/spec/template/spec/containers/5/image": array index 5 out of range`},
		{name: "predicate not a string", o: imgAt("/spec/replicas", policyv1alpha1.Tag, opReplace, "v2"), wantErr: `path "/spec/replicas" is not a string`},
		{name: "predicate not a pointer", o: imgAt("spec", policyv1alpha1.Tag, opReplace, "v2"), wantErr: `is not a JSON pointer`},
		{name: "predicate on another kind", base: configMapYAML, o: imgAt("/data/plain", policyv1alpha1.Tag, opReplace, "v2"), want: map[string]any{"/data/plain": "hello:v2"}},
		{name: "invalid image", base: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"Not Valid"}]}}`, o: img(policyv1alpha1.Tag, opReplace, "1"), wantErr: `/spec/containers/0/image: invalid image reference "Not Valid"`},
		{name: "missing image", base: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"a"}]}}`, o: img(policyv1alpha1.Tag, opReplace, "1"), wantErr: `/spec/containers/0/image is not a string`},
		{name: "containers not a list", base: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":{}}}`, o: img(policyv1alpha1.Tag, opReplace, "1"), wantErr: `/spec/containers is not a list`},
		{name: "pod without containers", base: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{}}`, o: img(policyv1alpha1.Tag, opReplace, "1"), want: map[string]any{"/spec/containers": absent{}}},
	})
}

// TestApplyImageKinds checks which kinds the predicate-less imageOverrider changes.
func TestApplyImageKinds(t *testing.T) {
	podSpec := `{"containers":[{"name":"a","image":"nginx"}],"initContainers":[{"name":"i","image":"busybox"}]}`
	template := `{"template":{"spec":` + podSpec + `}}`
	tests := []struct {
		apiVersion, kind, spec, path string
		changed                      bool
	}{
		{"v1", "Pod", podSpec, "/spec/containers/0/image", true},
		{"apps/v1", "ReplicaSet", template, c0, true},
		{"apps/v1", "Deployment", template, c0, true},
		{"apps/v1", "DaemonSet", template, c0, true},
		{"apps/v1", "StatefulSet", template, c0, true},
		{"batch/v1", "Job", template, c0, true},
		{"batch/v1", "CronJob", `{"jobTemplate":{"spec":` + template + `}}`, "/spec/jobTemplate/spec/template/spec/containers/0/image", false},
		{"v1", "ReplicationController", template, c0, false},
		{"example.com/v1", "Deployment", template, c0, false},
		{"example.com/v1", "Pod", podSpec, "/spec/containers/0/image", false},
	}
	for _, tt := range tests {
		t.Run(tt.apiVersion+" "+tt.kind, func(t *testing.T) {
			in := mustObject(t, fmt.Sprintf(`{"apiVersion":%q,"kind":%q,"metadata":{"name":"x","namespace":"default"},"spec":%s}`, tt.apiVersion, tt.kind, tt.spec))
			out, _, err := Apply(in, rules(img(policyv1alpha1.Tag, opReplace, "1.20")))
			if err != nil {
				t.Fatal(err)
			}
			want := "nginx"
			if tt.changed {
				want = "nginx:1.20"
			}
			if got := get(t, out, tt.path); got != want {
				t.Fatalf("image = %v, want %v", got, want)
			}
			initPath := tt.path[:len(tt.path)-len("containers/0/image")] + "initContainers/0/image"
			if got := get(t, out, initPath); got != "busybox" {
				t.Fatalf("init container image = %v, want it untouched", got)
			}
		})
	}
}
