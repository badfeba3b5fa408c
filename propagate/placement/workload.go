package placement

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ReplicaRequirements reads the replicas of a workload template and the resources one replica
// requests (the pod template's effective requests, see podRequests). Deployment, StatefulSet and
// ReplicaSet (apps) use spec.replicas, defaulting to 1 when absent; Job (batch) uses
// spec.parallelism, defaulting to 1; any other kind with an integer spec.replicas uses it with
// spec.template.spec as the pod template. Everything else has 0 replicas and no requests (not a
// workload). A malformed template is an error.
func ReplicaRequirements(obj *unstructured.Unstructured) (int32, corev1.ResourceList, error) {
	field, defaultReplicas := replicaField(obj.GroupVersionKind())
	replicas, found, err := unstructured.NestedFieldNoCopy(obj.Object, field...)
	if err != nil {
		return 0, nil, fmt.Errorf("read %s: %w", joinPath(field), err)
	}
	var n int64
	switch {
	case !found || replicas == nil:
		if defaultReplicas < 0 {
			return 0, nil, nil
		}
		n = defaultReplicas
	default:
		var ok bool
		if n, ok = toInt64(replicas); !ok {
			if defaultReplicas < 0 {
				return 0, nil, nil // a generic spec.replicas that is not a count: not a workload
			}
			return 0, nil, fmt.Errorf("%s is %T, not an integer", joinPath(field), replicas)
		}
	}
	if n < 0 || n > 1<<31-1 {
		return 0, nil, fmt.Errorf("%s = %d is out of range", joinPath(field), n)
	}
	requests, err := templateRequests(obj)
	if err != nil {
		return 0, nil, err
	}
	return int32(n), requests, nil
}

// replicaField is where a kind keeps its replica count, and the count when the field is absent (-1:
// absent means "not a workload").
func replicaField(gvk schema.GroupVersionKind) ([]string, int64) {
	switch {
	case gvk.Group == "apps" && (gvk.Kind == "Deployment" || gvk.Kind == "StatefulSet" || gvk.Kind == "ReplicaSet"):
		return []string{"spec", "replicas"}, 1
	case gvk.Group == "batch" && gvk.Kind == "Job":
		return []string{"spec", "parallelism"}, 1
	}
	return []string{"spec", "replicas"}, -1
}

// SetReplicas writes a cluster's share of replicas into its copy of a workload: spec.replicas (a Job's
// spec.parallelism). Objects without a replica count are left alone.
func SetReplicas(obj *unstructured.Unstructured, replicas int32) error {
	field, defaultReplicas := replicaField(obj.GroupVersionKind())
	cur, found, err := unstructured.NestedFieldNoCopy(obj.Object, field...)
	if err != nil {
		return fmt.Errorf("read %s: %w", joinPath(field), err)
	}
	if _, isCount := toInt64(cur); (!found && defaultReplicas < 0) || (found && !isCount && cur != nil) {
		return nil
	}
	return unstructured.SetNestedField(obj.Object, int64(replicas), field...)
}

func toInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	case float64:
		if x == float64(int64(x)) {
			return int64(x), true
		}
	}
	return 0, false
}

func joinPath(p []string) string { return "." + strings.Join(p, ".") }

// templateRequests converts spec.template.spec to a PodSpec and returns its requests; no pod
// template means no requests.
func templateRequests(obj *unstructured.Unstructured) (corev1.ResourceList, error) {
	raw, found, err := unstructured.NestedMap(obj.Object, "spec", "template", "spec")
	if err != nil {
		return nil, fmt.Errorf("read .spec.template.spec: %w", err)
	}
	if !found {
		return nil, nil
	}
	var spec corev1.PodSpec
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &spec); err != nil {
		return nil, fmt.Errorf("read .spec.template.spec: %w", err)
	}
	return podRequests(&spec), nil
}

// podRequests is what the kube-scheduler reserves for one pod: the sum of the containers'
// requests plus restartable (sidecar) init containers, or the largest one-shot init container
// (with the sidecars started before it) if that is more, plus the pod overhead. Limits stand in
// for missing requests, as the apiserver defaults them.
func podRequests(spec *corev1.PodSpec) corev1.ResourceList {
	sum := corev1.ResourceList{}
	for i := range spec.Containers {
		addList(sum, containerRequests(&spec.Containers[i]))
	}
	sidecars := corev1.ResourceList{}
	peak := corev1.ResourceList{}
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			addList(sidecars, containerRequests(c))
			continue
		}
		step := corev1.ResourceList{}
		addList(step, sidecars)
		addList(step, containerRequests(c))
		maxList(peak, step)
	}
	addList(sum, sidecars)
	maxList(sum, peak)
	addList(sum, spec.Overhead)
	if len(sum) == 0 {
		return nil
	}
	return sum
}

func containerRequests(c *corev1.Container) corev1.ResourceList {
	out := corev1.ResourceList{}
	for name, q := range c.Resources.Limits {
		out[name] = q.DeepCopy()
	}
	for name, q := range c.Resources.Requests {
		out[name] = q.DeepCopy()
	}
	return out
}

func addList(into, add corev1.ResourceList) {
	for name, q := range add {
		cur, ok := into[name]
		if !ok {
			into[name] = q.DeepCopy()
			continue
		}
		cur.Add(q)
		into[name] = cur
	}
}

func maxList(into, other corev1.ResourceList) {
	for name, q := range other {
		if cur, ok := into[name]; !ok || q.Cmp(cur) > 0 {
			into[name] = q.DeepCopy()
		}
	}
}
