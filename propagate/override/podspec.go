package override

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// podSpecPath is where the pod spec of obj is, for the kinds whose containers the image, command
// and args overriders change: Pod, and the pod template of ReplicaSet, Deployment, DaemonSet,
// StatefulSet and Job. Other kinds (CronJob included) have none: nil.
func podSpecPath(obj *unstructured.Unstructured) []string {
	group := ""
	if g, _, ok := strings.Cut(obj.GetAPIVersion(), "/"); ok {
		group = g
	}
	switch obj.GetKind() {
	case "Pod":
		if group == "" {
			return []string{"spec"}
		}
	case "ReplicaSet", "Deployment", "DaemonSet", "StatefulSet":
		if group == "apps" {
			return []string{"spec", "template", "spec"}
		}
	case "Job":
		if group == "batch" {
			return []string{"spec", "template", "spec"}
		}
	}
	return nil
}

// containers returns the containers list of obj's pod spec (not the init containers) and its
// JSON pointer, or nil when obj has no pod spec or no containers.
func containers(obj *unstructured.Unstructured) ([]any, string, error) {
	path := podSpecPath(obj)
	if path == nil {
		return nil, "", nil
	}
	path = append(path, "containers")
	ptr := "/" + strings.Join(path, "/")
	var node any = obj.Object
	for i, key := range path {
		m, ok := node.(map[string]any)
		if !ok {
			return nil, "", fmt.Errorf("/%s is not an object", strings.Join(path[:i], "/"))
		}
		if node, ok = m[key]; !ok || node == nil {
			return nil, ptr, nil
		}
	}
	list, ok := node.([]any)
	if !ok {
		return nil, "", fmt.Errorf("%s is not a list", ptr)
	}
	return list, ptr, nil
}
