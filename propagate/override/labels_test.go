package override

import (
	"testing"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
)

func labelsOv(op policyv1alpha1.OverriderOperator, kv map[string]string) policyv1alpha1.Overriders {
	return policyv1alpha1.Overriders{LabelsOverrider: []policyv1alpha1.LabelAnnotationOverrider{{Operator: op, Value: kv}}}
}

func annotationsOv(op policyv1alpha1.OverriderOperator, kv map[string]string) policyv1alpha1.Overriders {
	return policyv1alpha1.Overriders{AnnotationsOverrider: []policyv1alpha1.LabelAnnotationOverrider{{Operator: op, Value: kv}}}
}

func TestApplyLabelsAnnotations(t *testing.T) {
	noMeta := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}`
	runCases(t, []applyCase{
		{name: "labels add", o: labelsOv(opAdd, map[string]string{"env": "prod", "app": "web"}), want: map[string]any{"/metadata/labels": map[string]any{"app": "web", "env": "prod", "app.kubernetes.io/name": "nginx"}}},
		{name: "labels add creates the map", base: noMeta, o: labelsOv(opAdd, map[string]string{"env": "prod"}), want: map[string]any{"/metadata/labels": map[string]any{"env": "prod"}}},
		{name: "labels add creates metadata", base: `{"apiVersion":"v1","kind":"ConfigMap"}`, o: labelsOv(opAdd, map[string]string{"env": "prod"}), want: map[string]any{"/metadata/labels/env": "prod"}},
		{name: "labels replace only existing", o: labelsOv(opReplace, map[string]string{"app": "web", "env": "prod"}), want: map[string]any{"/metadata/labels/app": "web", "/metadata/labels/env": absent{}}},
		{name: "labels replace without map", base: noMeta, o: labelsOv(opReplace, map[string]string{"app": "web"}), want: map[string]any{"/metadata/labels": absent{}}},
		{name: "labels remove only existing", o: labelsOv(opRemove, map[string]string{"app": "", "env": ""}), want: map[string]any{"/metadata/labels": map[string]any{"app.kubernetes.io/name": "nginx"}}},
		{name: "labels remove key with slash", o: labelsOv(opRemove, map[string]string{"app.kubernetes.io/name": ""}), want: map[string]any{"/metadata/labels": map[string]any{"app": "nginx"}}},
		{name: "labels remove without map", base: noMeta, o: labelsOv(opRemove, map[string]string{"app": ""}), want: map[string]any{"/metadata/labels": absent{}}},
		{name: "template labels untouched", o: labelsOv(opAdd, map[string]string{"env": "prod"}), want: map[string]any{"/spec/template/metadata/labels": map[string]any{"app": "nginx"}}},
		{name: "annotations add", o: annotationsOv(opAdd, map[string]string{"example.com/owner": "team-a"}), want: map[string]any{"/metadata/annotations": map[string]any{"team": "web", "example.com/owner": "team-a"}}},
		{name: "annotations replace", o: annotationsOv(opReplace, map[string]string{"team": "ops", "x": "y"}), want: map[string]any{"/metadata/annotations": map[string]any{"team": "ops"}}},
		{name: "annotations remove", o: annotationsOv(opRemove, map[string]string{"team": ""}), want: map[string]any{"/metadata/annotations": map[string]any{}}},
		{name: "labels add nothing", base: noMeta, o: labelsOv(opAdd, nil), want: map[string]any{"/metadata/labels": absent{}}},
		{name: "unknown operator", o: annotationsOv("set", map[string]string{"team": ""}), wantErr: `overrideRules[0].overriders.annotationsOverrider[0]: unsupported operator "set"`},
		{name: "labels not a map", base: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","labels":"a"}}`, o: labelsOv(opAdd, map[string]string{"a": "b"}), wantErr: `labelsOverrider[0]: /metadata/labels is not an object`},
	})
}
