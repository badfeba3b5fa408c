package override

import (
	"testing"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
)

func cmdArgs(command bool, container string, op policyv1alpha1.OverriderOperator, values ...string) policyv1alpha1.Overriders {
	o := []policyv1alpha1.CommandArgsOverrider{{ContainerName: container, Operator: op, Value: values}}
	if command {
		return policyv1alpha1.Overriders{CommandOverrider: o}
	}
	return policyv1alpha1.Overriders{ArgsOverrider: o}
}

const (
	cmd0  = "/spec/template/spec/containers/0/command"
	args0 = "/spec/template/spec/containers/0/args"
	cmd1  = "/spec/template/spec/containers/1/command"
	args1 = "/spec/template/spec/containers/1/args"
)

func TestApplyCommandArgs(t *testing.T) {
	exporterCmd := []any{"/usr/bin/exporter", "--scrape-uri=http://localhost/stub"}
	runCases(t, []applyCase{
		{name: "command add creates the list", o: cmdArgs(true, "nginx", opAdd, "nginx", "-c", "/etc/nginx.conf"), want: map[string]any{cmd0: []any{"nginx", "-c", "/etc/nginx.conf"}, cmd1: exporterCmd}},
		{name: "command add appends", o: cmdArgs(true, "exporter", opAdd, "--debug"), want: map[string]any{cmd1: append(append([]any{}, exporterCmd...), "--debug"), cmd0: absent{}}},
		{name: "command remove", o: cmdArgs(true, "exporter", opRemove, "--scrape-uri=http://localhost/stub", "--absent"), want: map[string]any{cmd1: []any{"/usr/bin/exporter"}}},
		{name: "command remove every equal element", base: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"x","command":["a","b","a",3]}]}}`, o: cmdArgs(true, "a", opRemove, "a"), want: map[string]any{"/spec/containers/0/command": []any{"b", int64(3)}}},
		{name: "command remove without a list", o: cmdArgs(true, "nginx", opRemove, "x"), want: map[string]any{cmd0: absent{}}},
		{name: "args add", o: cmdArgs(false, "nginx", opAdd, "-v"), want: map[string]any{args0: []any{"-g", "daemon off;", "-v"}, args1: absent{}}},
		{name: "args remove", o: cmdArgs(false, "nginx", opRemove, "-g", "daemon off;"), want: map[string]any{args0: []any{}}},
		{name: "unknown container", o: cmdArgs(false, "sidecar", opAdd, "-v"), want: map[string]any{args0: []any{"-g", "daemon off;"}, args1: absent{}}},
		{name: "init containers untouched", o: cmdArgs(true, "init", opAdd, "x"), want: map[string]any{"/spec/template/spec/initContainers/0/command": []any{"sh", "-c", "true"}}},
		{name: "other kinds untouched", base: configMapYAML, o: cmdArgs(true, "nginx", opAdd, "x"), want: map[string]any{"/data/plain": "hello"}},
		{name: "replace unsupported", o: cmdArgs(true, "nginx", opReplace, "x"), wantErr: `overrideRules[0].overriders.commandOverrider[0]: unsupported operator "replace": must be add or remove`},
		{name: "args error path", o: cmdArgs(false, "nginx", "set", "x"), wantErr: `overrideRules[0].overriders.argsOverrider[0]: unsupported operator "set"`},
		{name: "command not a list", base: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"x","command":"sh"}]}}`, o: cmdArgs(true, "a", opAdd, "x"), wantErr: `/spec/containers/0/command is not a list`},
		{name: "template not an object", base: `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"template":"x"}}`, o: cmdArgs(true, "a", opAdd, "x"), wantErr: `/spec/template is not an object`},
	})
}
