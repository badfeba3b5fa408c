package override

import (
	"testing"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
)

func jsonOps(path string, ops ...policyv1alpha1.JSONPatchOperation) policyv1alpha1.Overriders {
	return policyv1alpha1.Overriders{FieldOverrider: []policyv1alpha1.FieldOverrider{{FieldPath: path, JSON: ops}}}
}

func yamlOps(path string, ops ...policyv1alpha1.YAMLPatchOperation) policyv1alpha1.Overriders {
	return policyv1alpha1.Overriders{FieldOverrider: []policyv1alpha1.FieldOverrider{{FieldPath: path, YAML: ops}}}
}

func jop(sub string, op policyv1alpha1.OverriderOperator, value string) policyv1alpha1.JSONPatchOperation {
	o := policyv1alpha1.JSONPatchOperation{SubPath: sub, Operator: op}
	if value != "" {
		o.Value = raw(value)
	}
	return o
}

func yop(sub string, op policyv1alpha1.OverriderOperator, value string) policyv1alpha1.YAMLPatchOperation {
	o := policyv1alpha1.YAMLPatchOperation{SubPath: sub, Operator: op}
	if value != "" {
		o.Value = raw(value)
	}
	return o
}

func TestApplyField(t *testing.T) {
	const (
		cj = "/data/config.json"
		cy = "/data/config.yaml"
	)
	runCases(t, []applyCase{
		{name: "json replace keeps numbers and html", base: configMapYAML, o: jsonOps(cj, jop("/log/level", opReplace, `"debug"`)),
			want: map[string]any{cj: `{"big":12345678901234567890,"html":"<b>&</b>","log":{"level":"debug"},"replicas":3}`, cy: "log:\n  level: info\nservers:\n- a\n- b\n"}},
		{name: "json add and remove", base: configMapYAML, o: jsonOps(cj, jop("/log/format", opAdd, `"json"`), jop("/big", opRemove, ""), jop("/html", opRemove, ""), jop("/replicas", opReplace, "5")),
			want: map[string]any{cj: `{"log":{"format":"json","level":"info"},"replicas":5}`}},
		{name: "json whole document", base: configMapYAML, o: jsonOps(cj, jop("", opReplace, `[1,2]`)), want: map[string]any{cj: `[1,2]`}},
		{name: "yaml replace", base: configMapYAML, o: yamlOps(cy, yop("/log/level", opReplace, `"debug"`)),
			want: map[string]any{cy: "log:\n  level: debug\nservers:\n- a\n- b\n", "/data/plain": "hello"}},
		{name: "yaml add to list and object", base: configMapYAML, o: yamlOps(cy, yop("/servers/-", opAdd, `"c"`), yop("/log/format", opAdd, `{"type":"json"}`)),
			want: map[string]any{cy: "log:\n  format:\n    type: json\n  level: info\nservers:\n- a\n- b\n- c\n"}},
		{name: "yaml remove", base: configMapYAML, o: yamlOps(cy, yop("/servers/0", opRemove, "")), want: map[string]any{cy: "log:\n  level: info\nservers:\n- b\n"}},
		{name: "neither json nor yaml", base: configMapYAML, o: policyv1alpha1.Overriders{FieldOverrider: []policyv1alpha1.FieldOverrider{{FieldPath: cy}}}, want: map[string]any{cy: "log:\n  level: info\nservers:\n- a\n- b\n"}},
		{name: "yaml sub path missing", base: configMapYAML, o: yamlOps(cy, yop("/log/level", opReplace, `"x"`), yop("/nope/x", opReplace, `"x"`)), wantErr: `OverridePolicy default/test: overrideRules[0].overriders.fieldOverrider[0].yaml[1]: path "/nope/x" not found`},
		{name: "json sub path not a pointer", base: configMapYAML, o: jsonOps(cj, jop("log", opReplace, `"x"`)), wantErr: `fieldOverrider[0].json[0]: path "log" is not a JSON pointer`},
		{name: "json value missing", base: configMapYAML, o: jsonOps(cj, jop("/log", opAdd, "")), wantErr: `fieldOverrider[0].json[0]: value is required for add and replace`},
		{name: "json value invalid", base: configMapYAML, o: jsonOps(cj, jop("/log", opAdd, "{")), wantErr: `fieldOverrider[0].json[0]: value is not valid JSON`},
		{name: "json op unknown", base: configMapYAML, o: jsonOps(cj, jop("/log", "copy", "1")), wantErr: `fieldOverrider[0].json[0]: unsupported operator "copy"`},
		{name: "field path missing", base: configMapYAML, o: jsonOps("/data/nope.json", jop("/a", opAdd, "1")), wantErr: `overrideRules[0].overriders.fieldOverrider[0]: path "/data/nope.json" not found`},
		{name: "field not a string", base: configMapYAML, o: jsonOps("/data", jop("/a", opAdd, "1")), wantErr: `fieldPath "/data" is not a string`},
		{name: "field not JSON", base: configMapYAML, o: jsonOps(cy, jop("/a", opAdd, "1")), wantErr: `fieldOverrider[0]: the field does not hold a JSON document`},
		{name: "field not YAML", base: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"data":{"y":"a: [b"}}`, o: yamlOps("/data/y", yop("/a", opAdd, "1")), wantErr: `the field does not hold a YAML document`},
	})
}
