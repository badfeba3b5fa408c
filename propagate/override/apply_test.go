package override

import (
	"errors"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
)

// everything uses every overrider with every operator that keeps working when applied twice.
func everything() policyv1alpha1.Overriders {
	return policyv1alpha1.Overriders{
		ImageOverrider: []policyv1alpha1.ImageOverrider{
			{Component: policyv1alpha1.Registry, Operator: opReplace, Value: "mirror.example.com"},
			{Component: policyv1alpha1.Tag, Operator: opReplace, Value: "1.20"},
			{Predicate: &policyv1alpha1.ImagePredicate{Path: i0}, Component: policyv1alpha1.Tag, Operator: opRemove},
		},
		CommandOverrider: []policyv1alpha1.CommandArgsOverrider{{ContainerName: "exporter", Operator: opRemove, Value: []string{"--scrape-uri=http://localhost/stub"}}},
		ArgsOverrider:    []policyv1alpha1.CommandArgsOverrider{{ContainerName: "nginx", Operator: opRemove, Value: []string{"-g"}}},
		LabelsOverrider: []policyv1alpha1.LabelAnnotationOverrider{
			{Operator: opReplace, Value: map[string]string{"app": "web"}},
			{Operator: opRemove, Value: map[string]string{"app.kubernetes.io/name": ""}},
		},
		AnnotationsOverrider: []policyv1alpha1.LabelAnnotationOverrider{
			{Operator: opReplace, Value: map[string]string{"team": "ops"}},
			{Operator: opAdd, Value: map[string]string{"example.com/cluster": "member1"}},
		},
		Plaintext: []policyv1alpha1.PlaintextOverrider{
			plaintext("/spec/replicas", opReplace, "3"),
			plaintext("/spec/template/spec/containers/0/resources/limits/memory", opReplace, `"256Mi"`),
			plaintext("/spec/minReadySeconds", opAdd, "5"),
		},
	}
}

func TestApplyAll(t *testing.T) {
	in := mustObject(t, deploymentYAML)
	out, applied, err := Apply(in, rules(everything()))
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != 1 || applied[0].Rule != 0 || applied[0].Policy.Name != "test" {
		t.Fatalf("applied = %+v", applied)
	}
	checkPaths(t, out, map[string]any{
		c0:                      "mirror.example.com/nginx:1.20",
		c1:                      "mirror.example.com/prometheus/nginx-exporter:1.20",
		i0:                      "busybox",
		cmd1:                    []any{"/usr/bin/exporter"},
		args0:                   []any{"daemon off;"},
		"/metadata/labels":      map[string]any{"app": "web"},
		"/metadata/annotations": map[string]any{"team": "ops", "example.com/cluster": "member1"},
		"/spec/replicas":        int64(3),
		"/spec/minReadySeconds": int64(5),
		"/spec/template/spec/containers/0/resources/limits/memory": "256Mi",
	})
}

// TestApplyOrder checks Karmada's order inside a rule: image, command, args, labels,
// annotations, field, plaintext — so plaintext, last, wins.
func TestApplyOrder(t *testing.T) {
	o := policyv1alpha1.Overriders{
		Plaintext:        []policyv1alpha1.PlaintextOverrider{plaintext(c0, opReplace, `"final:1"`), plaintext("/metadata/labels/env", opReplace, `"plain"`)},
		LabelsOverrider:  []policyv1alpha1.LabelAnnotationOverrider{{Operator: opAdd, Value: map[string]string{"env": "labels"}}},
		ImageOverrider:   []policyv1alpha1.ImageOverrider{{Component: policyv1alpha1.Tag, Operator: opReplace, Value: "2"}},
		ArgsOverrider:    []policyv1alpha1.CommandArgsOverrider{{ContainerName: "nginx", Operator: opRemove, Value: []string{"x"}}},
		CommandOverrider: []policyv1alpha1.CommandArgsOverrider{{ContainerName: "nginx", Operator: opAdd, Value: []string{"x"}}},
	}
	out, _, err := Apply(mustObject(t, deploymentYAML), rules(o))
	if err != nil {
		t.Fatal(err)
	}
	checkPaths(t, out, map[string]any{c0: "final:1", "/metadata/labels/env": "plain", cmd0: []any{"x"}, args0: []any{"-g", "daemon off;"}})

	// Rules run in order, and later rules see earlier results.
	out, applied, err := Apply(mustObject(t, deploymentYAML), rules(
		plain(plaintext("/spec/minReadySeconds", opAdd, "1")),
		plain(plaintext("/spec/minReadySeconds", opReplace, "2")),
	))
	if err != nil {
		t.Fatal(err)
	}
	checkPaths(t, out, map[string]any{"/spec/minReadySeconds": int64(2)})
	if len(applied) != 2 || applied[0].Rule != 0 || applied[1].Rule != 1 {
		t.Fatalf("applied = %+v", applied)
	}
}

func TestApplyErrorNamesPolicyAndPath(t *testing.T) {
	o := plain(plaintext("/spec/replicas", opReplace, "1"), plaintext("/spec/nope", opReplace, "1"))
	tests := []struct {
		name   string
		policy Applicable
		want   string
	}{
		{"override rule", Applicable{Policy: PolicyRef{Kind: "OverridePolicy", Namespace: "default", Name: "foo"}, Rules: []Rule{{Index: 0, Overriders: &o}}},
			`OverridePolicy default/foo: overrideRules[0].overriders.plaintext[1]: path "/spec/nope" not found`},
		{"later rule", Applicable{Policy: PolicyRef{Kind: "OverridePolicy", Namespace: "default", Name: "foo"}, Rules: []Rule{{Index: 3, Overriders: &o}}},
			`OverridePolicy default/foo: overrideRules[3].overriders.plaintext[1]: path "/spec/nope" not found`},
		{"deprecated form", Applicable{Policy: PolicyRef{Kind: "ClusterOverridePolicy", Name: "bar"}, Rules: []Rule{{Index: DeprecatedRule, Overriders: &o}}},
			`ClusterOverridePolicy bar: overriders.plaintext[1]: path "/spec/nope" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok := plain(plaintext("/spec/replicas", opReplace, "4"))
			first := Applicable{Policy: PolicyRef{Kind: "ClusterOverridePolicy", Name: "first"}, Rules: []Rule{{Index: 0, Overriders: &ok}}}
			_, _, err := Apply(mustObject(t, deploymentYAML), first, tt.policy)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
			var oe *Error
			if !errors.As(err, &oe) || oe.Policy != tt.policy.Policy || !errors.Is(err, errNotFound) {
				t.Fatalf("error %#v does not carry the policy and cause", err)
			}
		})
	}
}

func TestApplyNeverMutatesInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    policyv1alpha1.Overriders
	}{
		{"success", everything()},
		{"additions", policyv1alpha1.Overriders{
			CommandOverrider: []policyv1alpha1.CommandArgsOverrider{{ContainerName: "exporter", Operator: opAdd, Value: []string{"-v"}}},
			ArgsOverrider:    []policyv1alpha1.CommandArgsOverrider{{ContainerName: "nginx", Operator: opAdd, Value: []string{"-v"}}},
			LabelsOverrider:  []policyv1alpha1.LabelAnnotationOverrider{{Operator: opAdd, Value: map[string]string{"x": "y"}}},
			Plaintext:        []policyv1alpha1.PlaintextOverrider{plaintext("/spec/template/spec/containers/0/args/0", opAdd, `"a"`), plaintext("/spec/template/spec/volumes/0", opRemove, "")},
		}},
		{"failure after changes", policyv1alpha1.Overriders{
			LabelsOverrider: []policyv1alpha1.LabelAnnotationOverrider{{Operator: opAdd, Value: map[string]string{"x": "y"}}},
			Plaintext:       []policyv1alpha1.PlaintextOverrider{plaintext("/spec/replicas", opReplace, "9"), plaintext("/nope/x", opAdd, "1")},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := mustObject(t, deploymentYAML)
			before := in.DeepCopy()
			out, _, _ := Apply(in, rules(tc.o))
			if !reflect.DeepEqual(in.Object, before.Object) {
				t.Fatal("Apply changed its input")
			}
			if out != nil {
				// The result shares nothing with the input: changing it leaves the input alone.
				_ = unstructured.SetNestedField(out.Object, "changed", "spec", "template", "spec", "containers")
				out.SetLabels(map[string]string{"changed": "yes"})
				if !reflect.DeepEqual(in.Object, before.Object) {
					t.Fatal("the result shares state with the input")
				}
			}
		})
	}
}

// TestApplyIdempotent: replace and remove operations (and add of map keys) give the same
// object when applied again to their own result.
func TestApplyIdempotent(t *testing.T) {
	for _, base := range []string{deploymentYAML, configMapYAML} {
		o := everything()
		if base == configMapYAML {
			o = policyv1alpha1.Overriders{
				FieldOverrider: []policyv1alpha1.FieldOverrider{
					{FieldPath: "/data/config.json", JSON: []policyv1alpha1.JSONPatchOperation{jop("/log/level", opReplace, `"debug"`), jop("/html", opRemove, "")}},
					{FieldPath: "/data/config.yaml", YAML: []policyv1alpha1.YAMLPatchOperation{yop("/servers", opReplace, `["x"]`)}},
				},
				LabelsOverrider: []policyv1alpha1.LabelAnnotationOverrider{{Operator: opAdd, Value: map[string]string{"env": "prod"}}},
			}
		}
		once, _, err := Apply(mustObject(t, base), rules(o))
		if err != nil {
			t.Fatal(err)
		}
		o2 := o
		// A second run may not remove what is already gone.
		o2.Plaintext = nil
		for _, p := range o.Plaintext {
			if p.Operator != opRemove {
				o2.Plaintext = append(o2.Plaintext, p)
			}
		}
		if base == configMapYAML {
			o2.FieldOverrider = []policyv1alpha1.FieldOverrider{o.FieldOverrider[0], o.FieldOverrider[1]}
			o2.FieldOverrider[0].JSON = o.FieldOverrider[0].JSON[:1]
		}
		twice, _, err := Apply(once, rules(o2))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(once.Object, twice.Object) {
			t.Fatalf("not idempotent:\nonce  %v\ntwice %v", once.Object, twice.Object)
		}
	}
}

func TestApplyNothing(t *testing.T) {
	in := mustObject(t, deploymentYAML)
	out, applied, err := Apply(in)
	if err != nil || applied != nil || out == in || !reflect.DeepEqual(out.Object, in.Object) {
		t.Fatalf("Apply() = %p, %v, %v; want an equal copy", out, applied, err)
	}
	if _, _, err := Apply(nil); err == nil {
		t.Fatal("Apply(nil) succeeded")
	}
	empty := Applicable{Policy: PolicyRef{Kind: "OverridePolicy", Namespace: "default", Name: "e"}, Rules: []Rule{{Index: 0, Overriders: &policyv1alpha1.Overriders{}}}}
	if _, applied, err := Apply(in, empty); err != nil || len(applied) != 1 {
		t.Fatalf("an empty rule is applied and recorded as Karmada does: %v %v", applied, err)
	}
	nilRule := Applicable{Policy: empty.Policy, Rules: []Rule{{Index: 0}}}
	if _, applied, err := Apply(in, nilRule); err != nil || len(applied) != 1 {
		t.Fatalf("a rule without overriders: %v %v", applied, err)
	}
	if _, err := AppliedAnnotations([]AppliedPolicy{{Policy: empty.Policy}}); err != nil {
		t.Fatal(err)
	}
}

func TestAppliedAnnotations(t *testing.T) {
	a := plain(plaintext("/spec/replicas", opReplace, "1"))
	b := labelsOv(opAdd, map[string]string{"env": "prod"})
	applied := []AppliedPolicy{
		{Policy: PolicyRef{Kind: policyv1alpha1.ResourceKindClusterOverridePolicy, Name: "zz"}, Rule: 0, Overriders: &a},
		{Policy: PolicyRef{Kind: policyv1alpha1.ResourceKindClusterOverridePolicy, Name: "aa"}, Rule: DeprecatedRule, Overriders: &b},
		{Policy: PolicyRef{Kind: policyv1alpha1.ResourceKindOverridePolicy, Namespace: "default", Name: "op"}, Rule: 0, Overriders: &b},
		{Policy: PolicyRef{Kind: policyv1alpha1.ResourceKindOverridePolicy, Namespace: "default", Name: "op"}, Rule: 1, Overriders: &a},
	}
	got, err := AppliedAnnotations(applied)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		policyv1alpha1.AppliedClusterOverrides: `[{"policyName":"aa","overriders":{"labelsOverrider":[{"operator":"add","value":{"env":"prod"}}]}},{"policyName":"zz","overriders":{"plaintext":[{"path":"/spec/replicas","operator":"replace","value":1}]}}]`,
		policyv1alpha1.AppliedOverrides:        `[{"policyName":"op","overriders":{"labelsOverrider":[{"operator":"add","value":{"env":"prod"}}]}},{"policyName":"op","overriders":{"plaintext":[{"path":"/spec/replicas","operator":"replace","value":1}]}}]`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("AppliedAnnotations =\n%v\nwant\n%v", got, want)
	}
	if got, err := AppliedAnnotations(applied[2:]); err != nil || len(got) != 1 || got[policyv1alpha1.AppliedOverrides] == "" {
		t.Fatalf("only namespaced: %v %v", got, err)
	}
	if got, err := AppliedAnnotations(nil); err != nil || len(got) != 0 {
		t.Fatalf("nothing applied: %v %v", got, err)
	}
}
