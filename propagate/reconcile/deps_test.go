package reconcile

import (
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func mustObject(t *testing.T, s string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(s), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestDependencies(t *testing.T) {
	podSpec := `
      serviceAccountName: builder
      imagePullSecrets: [{name: registry}]
      initContainers:
      - name: init
        envFrom: [{configMapRef: {name: init-env}}]
      containers:
      - name: app
        env:
        - {name: A, valueFrom: {configMapKeyRef: {name: app-config, key: a}}}
        - {name: B, valueFrom: {secretKeyRef: {name: app-secret, key: b}}}
        - {name: C, value: plain}
        envFrom: [{secretRef: {name: env-secret}}, {configMapRef: {name: app-config}}]
      volumes:
      - {name: v1, configMap: {name: files}}
      - {name: v2, secret: {secretName: certs}}
      - {name: v3, persistentVolumeClaim: {claimName: data}}
      - {name: v4, projected: {sources: [{configMap: {name: proj-cm}}, {secret: {name: proj-secret}}, {serviceAccountToken: {path: t}}]}}
      - {name: v5, csi: {driver: x, nodePublishSecretRef: {name: csi-secret}}}
      - {name: v6, emptyDir: {}}
`
	all := []string{
		"configmaps/ns/app-config", "configmaps/ns/files", "configmaps/ns/init-env", "configmaps/ns/proj-cm",
		"persistentvolumeclaims/ns/data",
		"secrets/ns/app-secret", "secrets/ns/certs", "secrets/ns/csi-secret", "secrets/ns/env-secret", "secrets/ns/proj-secret", "secrets/ns/registry",
		"serviceaccounts/ns/builder",
	}
	indent := func(s, prefix string) string {
		out := ""
		for _, line := range strings.Split(s, "\n") {
			if line != "" {
				out += prefix + line + "\n"
			}
		}
		return out
	}
	tests := []struct {
		name string
		obj  string
		want []string
	}{
		{"deployment", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: ns}\nspec:\n  template:\n    spec:\n" + podSpec, all},
		{"cronjob", "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c, namespace: ns}\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n" + indent(podSpec, "    "), all},
		{"pod", "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ns}\nspec:\n" + indent(podSpec, "  "), all},
		{"default service account", "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: s, namespace: ns}\nspec:\n  template:\n    spec:\n      serviceAccountName: default\n      containers: [{name: a}]\n", []string{}},
		{"not a workload", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: ns}\ndata: {a: b}\n", []string{}},
		{"no pod template", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: ns}\nspec: {}\n", []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obj := mustObject(t, tc.obj)
			keys, err := dependencies(obj)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, k := range keys {
				got = append(got, strings.ToLower(k.Kind.Kind)+"s/"+k.Namespace+"/"+k.Name)
			}
			if !slices.Equal(got, tc.want) && len(got)+len(tc.want) > 0 {
				t.Fatalf("dependencies = %v, want %v", got, tc.want)
			}
		})
	}
}
