package validation

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
)

func ovRaw(s string) policyv1alpha1.JSON { return policyv1alpha1.JSON{Raw: []byte(s)} }

// validOverridePolicy uses every overrider with valid values.
func validOverridePolicy() *policyv1alpha1.OverridePolicy {
	return &policyv1alpha1.OverridePolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "op"},
		Spec: policyv1alpha1.OverrideSpec{
			ResourceSelectors: []policyv1alpha1.ResourceSelector{
				{APIVersion: "apps/v1", Kind: "Deployment", Name: "nginx"},
				{APIVersion: "v1", Kind: "ConfigMap", Namespace: "default", LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "nginx"}}},
			},
			OverrideRules: []policyv1alpha1.RuleWithCluster{
				{
					TargetCluster: &policyv1alpha1.ClusterAffinity{ClusterNames: []string{"member1"}, FieldSelector: &policyv1alpha1.FieldSelector{
						MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "region", Operator: corev1.NodeSelectorOpIn, Values: []string{"eu"}}},
					}},
					Overriders: policyv1alpha1.Overriders{
						Plaintext: []policyv1alpha1.PlaintextOverrider{
							{Path: "/spec/replicas", Operator: policyv1alpha1.OverriderOpReplace, Value: ovRaw("3")},
							{Path: "/metadata/annotations/a~1b", Operator: policyv1alpha1.OverriderOpAdd, Value: ovRaw(`"x"`)},
							{Path: "/spec/paused", Operator: policyv1alpha1.OverriderOpRemove},
						},
						ImageOverrider: []policyv1alpha1.ImageOverrider{
							{Component: policyv1alpha1.Tag, Operator: policyv1alpha1.OverriderOpReplace, Value: "1.20"},
							{Predicate: &policyv1alpha1.ImagePredicate{Path: "/spec/template/spec/containers/0/image"}, Component: policyv1alpha1.Registry, Operator: policyv1alpha1.OverriderOpRemove},
						},
						CommandOverrider:     []policyv1alpha1.CommandArgsOverrider{{ContainerName: "nginx", Operator: policyv1alpha1.OverriderOpAdd, Value: []string{"-v"}}},
						ArgsOverrider:        []policyv1alpha1.CommandArgsOverrider{{ContainerName: "nginx", Operator: policyv1alpha1.OverriderOpRemove, Value: []string{"-v"}}},
						LabelsOverrider:      []policyv1alpha1.LabelAnnotationOverrider{{Operator: policyv1alpha1.OverriderOpAdd, Value: map[string]string{"env": "prod"}}, {Operator: policyv1alpha1.OverriderOpRemove, Value: map[string]string{"tier": ""}}},
						AnnotationsOverrider: []policyv1alpha1.LabelAnnotationOverrider{{Operator: policyv1alpha1.OverriderOpReplace, Value: map[string]string{"example.com/owner": "team a"}}},
						FieldOverrider: []policyv1alpha1.FieldOverrider{
							{FieldPath: "/data/config.json", JSON: []policyv1alpha1.JSONPatchOperation{{SubPath: "/log/level", Operator: policyv1alpha1.OverriderOpReplace, Value: ovRaw(`"debug"`)}}},
							{FieldPath: "/data/config.yaml", YAML: []policyv1alpha1.YAMLPatchOperation{{SubPath: "", Operator: policyv1alpha1.OverriderOpReplace, Value: ovRaw(`{}`)}, {SubPath: "/a", Operator: policyv1alpha1.OverriderOpRemove}}},
						},
					},
				},
				{Overriders: policyv1alpha1.Overriders{Plaintext: []policyv1alpha1.PlaintextOverrider{{Path: "/spec/replicas", Operator: policyv1alpha1.OverriderOpReplace, Value: ovRaw("1")}}}},
			},
		},
	}
}

func ovErrs(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, string(e.Type)+" "+e.Field)
	}
	return out
}

func TestValidateOverridePolicy(t *testing.T) {
	if errs := ValidateOverridePolicy(validOverridePolicy()); len(errs) != 0 {
		t.Fatalf("valid policy: %v", errs)
	}
	const r0 = "spec.overrideRules[0].overriders."
	tests := []struct {
		name   string
		mutate func(p *policyv1alpha1.OverridePolicy)
		want   []string
	}{
		{"plaintext value missing for add", func(p *policyv1alpha1.OverridePolicy) {
			p.Spec.OverrideRules[0].Overriders.Plaintext[1].Value = policyv1alpha1.JSON{}
		}, []string{"FieldValueRequired " + r0 + "plaintext[1].value"}},
		{"plaintext value for remove", func(p *policyv1alpha1.OverridePolicy) {
			p.Spec.OverrideRules[0].Overriders.Plaintext[2].Value = ovRaw("1")
		}, []string{"FieldValueForbidden " + r0 + "plaintext[2].value"}},
		{"plaintext value not JSON", func(p *policyv1alpha1.OverridePolicy) {
			p.Spec.OverrideRules[1].Overriders.Plaintext[0].Value = ovRaw("{")
		}, []string{"FieldValueInvalid spec.overrideRules[1].overriders.plaintext[0].value"}},
		{"plaintext unknown operator", func(p *policyv1alpha1.OverridePolicy) {
			p.Spec.OverrideRules[0].Overriders.Plaintext[0].Operator = "move"
		}, []string{"FieldValueNotSupported " + r0 + "plaintext[0].operator"}},
		{"plaintext path not a pointer", func(p *policyv1alpha1.OverridePolicy) {
			p.Spec.OverrideRules[0].Overriders.Plaintext[0].Path = "spec/replicas"
		}, []string{"FieldValueInvalid " + r0 + "plaintext[0].path"}},
		{"plaintext path bad escape", func(p *policyv1alpha1.OverridePolicy) {
			p.Spec.OverrideRules[0].Overriders.Plaintext[0].Path = "/a~2b"
		}, []string{"FieldValueInvalid " + r0 + "plaintext[0].path"}},
		{"plaintext path trailing tilde", func(p *policyv1alpha1.OverridePolicy) {
			p.Spec.OverrideRules[0].Overriders.Plaintext[0].Path = "/a~0~"
		}, []string{"FieldValueInvalid " + r0 + "plaintext[0].path"}},
		{"plaintext path empty", func(p *policyv1alpha1.OverridePolicy) {
			p.Spec.OverrideRules[0].Overriders.Plaintext[0].Path = ""
		}, []string{"FieldValueRequired " + r0 + "plaintext[0].path"}},
		{"image unknown component", func(p *policyv1alpha1.OverridePolicy) {
			p.Spec.OverrideRules[0].Overriders.ImageOverrider[0].Component = "Digest"
		}, []string{"FieldValueNotSupported " + r0 + "imageOverrider[0].component"}},
		{"image unknown operator", func(p *policyv1alpha1.OverridePolicy) {
			p.Spec.OverrideRules[0].Overriders.ImageOverrider[0].Operator = "set"
		}, []string{"FieldValueNotSupported " + r0 + "imageOverrider[0].operator"}},
		{"image value missing", func(p *policyv1alpha1.OverridePolicy) {
			p.Spec.OverrideRules[0].Overriders.ImageOverrider[0].Value = ""
		}, []string{"FieldValueRequired " + r0 + "imageOverrider[0].value"}},
		{"image value for remove", func(p *policyv1alpha1.OverridePolicy) {
			p.Spec.OverrideRules[0].Overriders.ImageOverrider[1].Value = "x"
		}, []string{"FieldValueForbidden " + r0 + "imageOverrider[1].value"}},
		{"image predicate path", func(p *policyv1alpha1.OverridePolicy) {
			p.Spec.OverrideRules[0].Overriders.ImageOverrider[1].Predicate.Path = "spec"
		}, []string{"FieldValueInvalid " + r0 + "imageOverrider[1].predicate.path"}},
		{"command empty containerName", func(p *policyv1alpha1.OverridePolicy) {
			p.Spec.OverrideRules[0].Overriders.CommandOverrider[0].ContainerName = ""
		}, []string{"FieldValueRequired " + r0 + "commandOverrider[0].containerName"}},
		{"args replace", func(p *policyv1alpha1.OverridePolicy) {
			p.Spec.OverrideRules[0].Overriders.ArgsOverrider[0].Operator = policyv1alpha1.OverriderOpReplace
		}, []string{"FieldValueNotSupported " + r0 + "argsOverrider[0].operator"}},
		{"labels value missing", func(p *policyv1alpha1.OverridePolicy) {
			p.Spec.OverrideRules[0].Overriders.LabelsOverrider[0].Value = nil
		}, []string{"FieldValueRequired " + r0 + "labelsOverrider[0].value"}},
		{"labels remove without value", func(p *policyv1alpha1.OverridePolicy) {
			p.Spec.OverrideRules[0].Overriders.LabelsOverrider[1].Value = nil
		}, nil},
		{"labels invalid", func(p *policyv1alpha1.OverridePolicy) {
			p.Spec.OverrideRules[0].Overriders.LabelsOverrider[0].Value = map[string]string{"env": "not valid!"}
		}, []string{"FieldValueInvalid " + r0 + "labelsOverrider[0].value"}},
		{"labels unknown operator", func(p *policyv1alpha1.OverridePolicy) {
			p.Spec.OverrideRules[0].Overriders.LabelsOverrider[0].Operator = "set"
		}, []string{"FieldValueNotSupported " + r0 + "labelsOverrider[0].operator"}},
		{"annotations invalid key", func(p *policyv1alpha1.OverridePolicy) {
			p.Spec.OverrideRules[0].Overriders.AnnotationsOverrider[0].Value = map[string]string{"bad key": "x"}
		}, []string{"FieldValueInvalid " + r0 + "annotationsOverrider[0].value"}},
		{"annotations value missing", func(p *policyv1alpha1.OverridePolicy) {
			p.Spec.OverrideRules[0].Overriders.AnnotationsOverrider[0].Value = map[string]string{}
		}, []string{"FieldValueRequired " + r0 + "annotationsOverrider[0].value"}},
		{"fieldPath not a pointer", func(p *policyv1alpha1.OverridePolicy) {
			p.Spec.OverrideRules[0].Overriders.FieldOverrider[0].FieldPath = "data"
		}, []string{"FieldValueInvalid " + r0 + "fieldOverrider[0].fieldPath"}},
		{"fieldPath empty", func(p *policyv1alpha1.OverridePolicy) {
			p.Spec.OverrideRules[0].Overriders.FieldOverrider[0].FieldPath = ""
		}, []string{"FieldValueRequired " + r0 + "fieldOverrider[0].fieldPath"}},
		{"subPath not a pointer", func(p *policyv1alpha1.OverridePolicy) {
			p.Spec.OverrideRules[0].Overriders.FieldOverrider[1].YAML[1].SubPath = "a"
		}, []string{"FieldValueInvalid " + r0 + "fieldOverrider[1].yaml[1].subPath"}},
		{"field op value missing", func(p *policyv1alpha1.OverridePolicy) {
			p.Spec.OverrideRules[0].Overriders.FieldOverrider[0].JSON[0].Value = policyv1alpha1.JSON{}
		}, []string{"FieldValueRequired " + r0 + "fieldOverrider[0].json[0].value"}},
		{"field op value for remove", func(p *policyv1alpha1.OverridePolicy) {
			p.Spec.OverrideRules[0].Overriders.FieldOverrider[1].YAML[1].Value = ovRaw("1")
		}, []string{"FieldValueForbidden " + r0 + "fieldOverrider[1].yaml[1].value"}},
		{"field op unknown operator", func(p *policyv1alpha1.OverridePolicy) {
			p.Spec.OverrideRules[0].Overriders.FieldOverrider[0].JSON[0].Operator = "test"
		}, []string{"FieldValueNotSupported " + r0 + "fieldOverrider[0].json[0].operator"}},
		{"json and yaml", func(p *policyv1alpha1.OverridePolicy) {
			fo := &p.Spec.OverrideRules[0].Overriders.FieldOverrider[0]
			fo.YAML = []policyv1alpha1.YAMLPatchOperation{{SubPath: "/a", Operator: policyv1alpha1.OverriderOpRemove}}
		}, []string{"FieldValueForbidden " + r0 + "fieldOverrider[0].yaml"}},
		{"neither json nor yaml", func(p *policyv1alpha1.OverridePolicy) {
			p.Spec.OverrideRules[0].Overriders.FieldOverrider[0].JSON = nil
		}, []string{"FieldValueRequired " + r0 + "fieldOverrider[0]"}},
		{"overrideRules with targetCluster", func(p *policyv1alpha1.OverridePolicy) {
			p.Spec.TargetCluster = &policyv1alpha1.ClusterAffinity{ClusterNames: []string{"m"}} //nolint:staticcheck // testing the deprecated form
		}, []string{"FieldValueForbidden spec.targetCluster"}},
		{"overrideRules with overriders", func(p *policyv1alpha1.OverridePolicy) {
			p.Spec.Overriders = policyv1alpha1.Overriders{LabelsOverrider: []policyv1alpha1.LabelAnnotationOverrider{{Operator: policyv1alpha1.OverriderOpAdd, Value: map[string]string{"a": "b"}}}} //nolint:staticcheck // ditto
		}, []string{"FieldValueForbidden spec.overriders"}},
		{"empty overrideRules with overriders", func(p *policyv1alpha1.OverridePolicy) {
			p.Spec.OverrideRules = []policyv1alpha1.RuleWithCluster{}
			p.Spec.Overriders = policyv1alpha1.Overriders{Plaintext: []policyv1alpha1.PlaintextOverrider{{Path: "/a", Operator: policyv1alpha1.OverriderOpRemove}}} //nolint:staticcheck // ditto
		}, []string{"FieldValueForbidden spec.overriders"}},
		{"deprecated form is validated", func(p *policyv1alpha1.OverridePolicy) {
			p.Spec.OverrideRules = nil
			p.Spec.TargetCluster = &policyv1alpha1.ClusterAffinity{FieldSelector: &policyv1alpha1.FieldSelector{ //nolint:staticcheck // ditto
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "name", Operator: corev1.NodeSelectorOpIn}}}}
			p.Spec.Overriders = policyv1alpha1.Overriders{Plaintext: []policyv1alpha1.PlaintextOverrider{{Path: "/a", Operator: policyv1alpha1.OverriderOpAdd}}} //nolint:staticcheck // ditto
		}, []string{"FieldValueNotSupported spec.targetCluster.fieldSelector.matchExpressions[0].key", "FieldValueRequired spec.overriders.plaintext[0].value"}},
		{"selector of another namespace", func(p *policyv1alpha1.OverridePolicy) {
			p.Spec.ResourceSelectors[1].Namespace = "prod"
		}, []string{"FieldValueInvalid spec.resourceSelectors[1].namespace"}},
		{"selector invalid labelSelector", func(p *policyv1alpha1.OverridePolicy) {
			p.Spec.ResourceSelectors[1].LabelSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpIn}}}
		}, []string{"FieldValueRequired spec.resourceSelectors[1].labelSelector.matchExpressions[0].values"}},
		{"selector without kind", func(p *policyv1alpha1.OverridePolicy) {
			p.Spec.ResourceSelectors[0].Kind = ""
			p.Spec.ResourceSelectors[0].APIVersion = "a/b/c"
		}, []string{"FieldValueInvalid spec.resourceSelectors[0].apiVersion", "FieldValueRequired spec.resourceSelectors[0].kind"}},
		{"targetCluster operator", func(p *policyv1alpha1.OverridePolicy) {
			p.Spec.OverrideRules[0].TargetCluster.FieldSelector.MatchExpressions[0].Operator = corev1.NodeSelectorOpExists
		}, []string{"FieldValueNotSupported spec.overrideRules[0].targetCluster.fieldSelector.matchExpressions[0].operator"}},
		{"targetCluster labelSelector", func(p *policyv1alpha1.OverridePolicy) {
			p.Spec.OverrideRules[1].TargetCluster = &policyv1alpha1.ClusterAffinity{LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"env": "not valid!"}}}
		}, []string{"FieldValueInvalid spec.overrideRules[1].targetCluster.labelSelector.matchLabels"}},
		{"several errors", func(p *policyv1alpha1.OverridePolicy) {
			p.Spec.OverrideRules[0].Overriders.Plaintext[1].Value = policyv1alpha1.JSON{}
			p.Spec.OverrideRules[1].Overriders.Plaintext[0].Operator = ""
		}, []string{"FieldValueRequired " + r0 + "plaintext[1].value", "FieldValueNotSupported spec.overrideRules[1].overriders.plaintext[0].operator"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := validOverridePolicy()
			tt.mutate(p)
			if got := ovErrs(ValidateOverridePolicy(p)); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("errors:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestValidateClusterOverridePolicy(t *testing.T) {
	op := validOverridePolicy()
	cop := &policyv1alpha1.ClusterOverridePolicy{ObjectMeta: metav1.ObjectMeta{Name: "cop"}, Spec: op.Spec}
	cop.Spec.ResourceSelectors[1].Namespace = "any-namespace"
	if errs := ValidateClusterOverridePolicy(cop); len(errs) != 0 {
		t.Fatalf("valid policy: %v", errs)
	}
	cop.Spec.OverrideRules[1].Overriders.Plaintext[0].Path = "x"
	want := []string{"FieldValueInvalid spec.overrideRules[1].overriders.plaintext[0].path"}
	if got := ovErrs(ValidateClusterOverridePolicy(cop)); !reflect.DeepEqual(got, want) {
		t.Fatalf("errors: got %q, want %q", got, want)
	}
	// Messages name the field and say what is wrong.
	msg := ValidateClusterOverridePolicy(cop).ToAggregate().Error()
	if msg != `spec.overrideRules[1].overriders.plaintext[0].path: Invalid value: "x": must be a JSON pointer: start with "/"` {
		t.Fatalf("message %q", msg)
	}
}
