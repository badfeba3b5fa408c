package placement

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func TestReplicaRequirements(t *testing.T) {
	tests := []struct {
		name     string
		manifest string
		replicas int32
		requests map[corev1.ResourceName]string
		wantErr  bool
	}{
		{
			name: "Deployment",
			manifest: `
apiVersion: apps/v1
kind: Deployment
spec:
  replicas: 3
  template:
    spec:
      containers:
      - name: a
        resources: {requests: {cpu: 250m, memory: 64Mi}}
      - name: b
        resources: {requests: {cpu: 250m}, limits: {memory: 128Mi}}`,
			replicas: 3, requests: map[corev1.ResourceName]string{"cpu": "500m", "memory": "192Mi"},
		},
		{name: "Deployment without replicas defaults to 1", manifest: "apiVersion: apps/v1\nkind: Deployment\nspec: {}", replicas: 1},
		{name: "Deployment scaled to 0", manifest: "apiVersion: apps/v1\nkind: Deployment\nspec: {replicas: 0}", replicas: 0},
		{name: "StatefulSet", manifest: "apiVersion: apps/v1\nkind: StatefulSet\nspec: {replicas: 2}", replicas: 2},
		{name: "ReplicaSet", manifest: "apiVersion: apps/v1\nkind: ReplicaSet\nspec: {replicas: 4}", replicas: 4},
		{
			name: "Job uses parallelism",
			manifest: `
apiVersion: batch/v1
kind: Job
spec:
  parallelism: 5
  completions: 10
  template:
    spec:
      containers: [{name: a, resources: {requests: {cpu: "1"}}}]`,
			replicas: 5, requests: map[corev1.ResourceName]string{"cpu": "1"},
		},
		{name: "Job without parallelism defaults to 1", manifest: "apiVersion: batch/v1\nkind: Job\nspec: {}", replicas: 1},
		{
			name: "generic kind with spec.replicas and a pod template",
			manifest: `
apiVersion: example.com/v1
kind: Widget
spec:
  replicas: 7
  template:
    spec:
      containers: [{name: a, resources: {requests: {memory: 1Gi}}}]`,
			replicas: 7, requests: map[corev1.ResourceName]string{"memory": "1Gi"},
		},
		{name: "generic kind with a non-numeric spec.replicas is not a workload", manifest: "apiVersion: example.com/v1\nkind: Widget\nspec: {replicas: many}", replicas: 0},
		{name: "ConfigMap is not a workload", manifest: "apiVersion: v1\nkind: ConfigMap\ndata: {a: b}", replicas: 0},
		{name: "DaemonSet is not a workload", manifest: "apiVersion: apps/v1\nkind: DaemonSet\nspec: {template: {spec: {containers: [{name: a}]}}}", replicas: 0},
		{
			name: "init containers: the largest one-shot step or the sum, sidecars and overhead added",
			manifest: `
apiVersion: apps/v1
kind: Deployment
spec:
  replicas: 1
  template:
    spec:
      overhead: {cpu: 100m}
      initContainers:
      - {name: sidecar, restartPolicy: Always, resources: {requests: {cpu: 200m, memory: 10Mi}}}
      - {name: migrate, resources: {requests: {cpu: "2", memory: 10Mi}}}
      containers:
      - {name: a, resources: {requests: {cpu: 500m, memory: 100Mi}}}`,
			replicas: 1, requests: map[corev1.ResourceName]string{"cpu": "2300m", "memory": "110Mi"},
		},
		{name: "Deployment with a string replicas is an error", manifest: "apiVersion: apps/v1\nkind: Deployment\nspec: {replicas: three}", wantErr: true},
		{name: "negative replicas is an error", manifest: "apiVersion: apps/v1\nkind: Deployment\nspec: {replicas: -1}", wantErr: true},
		{name: "malformed pod template is an error", manifest: "apiVersion: apps/v1\nkind: Deployment\nspec: {template: {spec: {containers: 5}}}", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := &unstructured.Unstructured{}
			if err := yaml.Unmarshal([]byte(tt.manifest), &obj.Object); err != nil {
				t.Fatal(err)
			}
			replicas, requests, err := ReplicaRequirements(obj)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ReplicaRequirements = %d, %v, want an error", replicas, requests)
				}
				return
			}
			if err != nil {
				t.Fatalf("ReplicaRequirements: %v", err)
			}
			if replicas != tt.replicas {
				t.Errorf("replicas = %d, want %d", replicas, tt.replicas)
			}
			if len(requests) != len(tt.requests) {
				t.Errorf("requests = %v, want %v", requests, tt.requests)
			}
			for name, want := range tt.requests {
				got := requests[name]
				if got.Cmp(resource.MustParse(want)) != 0 {
					t.Errorf("requests[%s] = %s, want %s", name, got.String(), want)
				}
			}
		})
	}
}

func TestSetReplicas(t *testing.T) {
	mk := func(apiVersion, kind string, spec map[string]any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind, "spec": spec}}
	}
	tests := []struct {
		name  string
		obj   *unstructured.Unstructured
		field []string
		want  any // nil: field must stay absent
	}{
		{"deployment", mk("apps/v1", "Deployment", map[string]any{"replicas": int64(5)}), []string{"spec", "replicas"}, int64(2)},
		{"deployment without replicas", mk("apps/v1", "Deployment", map[string]any{}), []string{"spec", "replicas"}, int64(2)},
		{"job parallelism", mk("batch/v1", "Job", map[string]any{"parallelism": int64(4)}), []string{"spec", "parallelism"}, int64(2)},
		{"generic with count", mk("example.com/v1", "Thing", map[string]any{"replicas": int64(3)}), []string{"spec", "replicas"}, int64(2)},
		{"generic without count", mk("example.com/v1", "Thing", map[string]any{}), []string{"spec", "replicas"}, nil},
		{"generic replicas that is not a count", mk("example.com/v1", "Thing", map[string]any{"replicas": "many"}), []string{"spec", "replicas"}, "many"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := SetReplicas(tc.obj, 2); err != nil {
				t.Fatal(err)
			}
			got, found, _ := unstructured.NestedFieldNoCopy(tc.obj.Object, tc.field...)
			if tc.want == nil && found {
				t.Errorf("field set to %v on an object without replicas", got)
			}
			if tc.want != nil && got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
