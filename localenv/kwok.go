package localenv

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"path"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// stages are kwok's own node fast + heartbeat and pod fast Stages (see stages/README.md).
//
//go:embed stages/*.yaml
var stages embed.FS

// NodeLabel and NodeLabelValue label every kwok Node.
const (
	NodeLabel      = "type"
	NodeLabelValue = "kwok"
)

// kwokConfig is the member's kwok --config: the Stages, a ClusterExec that runs `kubectl exec`
// commands locally (in the member's directory) and a ClusterLogs that serves the CRI-format file
// podLog for every container's `kubectl logs`.
func kwokConfig(workDir, podLog string) ([]byte, error) {
	var b bytes.Buffer
	entries, err := stages.ReadDir("stages")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		data, err := stages.ReadFile(path.Join("stages", e.Name()))
		if err != nil {
			return nil, err
		}
		b.WriteString("---\n")
		b.Write(bytes.TrimRight(data, "\n"))
		b.WriteString("\n")
	}
	for _, obj := range []map[string]any{
		{
			"apiVersion": "kwok.x-k8s.io/v1alpha1",
			"kind":       "ClusterExec",
			"metadata":   map[string]any{"name": "local"},
			"spec":       map[string]any{"execs": []any{map[string]any{"local": map[string]any{"workDir": workDir}}}},
		},
		{
			"apiVersion": "kwok.x-k8s.io/v1alpha1",
			"kind":       "ClusterLogs",
			"metadata":   map[string]any{"name": "pod-log"},
			"spec":       map[string]any{"logs": []any{map[string]any{"logsFile": podLog}}},
		},
	} {
		data, err := json.Marshal(obj) // JSON is YAML
		if err != nil {
			return nil, err
		}
		b.WriteString("---\n")
		b.Write(data)
		b.WriteString("\n")
	}
	return b.Bytes(), nil
}

// PodLogLines are the lines every container of a kwok Pod logs (`kubectl logs`), after a first line
// "<member>: fake container log".
var PodLogLines = []string{"hello from kwok", "this line comes from the member's CRI-format log file"}

// podLog is the CRI-format container log kwok serves: "<RFC3339Nano> stdout F <text>" lines.
func podLog(member string, now time.Time) []byte {
	var b bytes.Buffer
	for _, line := range append([]string{member + ": fake container log"}, PodLogLines...) {
		fmt.Fprintf(&b, "%s stdout F %s\n", now.UTC().Format(time.RFC3339Nano), line)
	}
	return b.Bytes()
}

// fakeNode is a Node for kwok to manage: annotated for kwok, labelled type=kwok, with the member's
// capacity (kwok's node-initialize Stage keeps a capacity and allocatable that are already set).
func fakeNode(name string, m MemberOptions) *corev1.Node {
	res := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse(m.NodeCPU),
		corev1.ResourceMemory: resource.MustParse(m.NodeMemory),
		corev1.ResourcePods:   *resource.NewQuantity(int64(m.NodePods), resource.DecimalSI),
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: name,
			Labels: map[string]string{
				NodeLabel:                NodeLabelValue,
				"kubernetes.io/hostname": name,
				"kubernetes.io/os":       "linux",
				"kubernetes.io/arch":     "amd64",
			},
			Annotations: map[string]string{
				kwokNodeAnnotation:             "fake",
				"node.alpha.kubernetes.io/ttl": "0",
			},
		},
		Status: corev1.NodeStatus{Capacity: res, Allocatable: res.DeepCopy()},
	}
}

// nodeNames are the names of a workload member's Nodes: <member>-node1, …
func nodeNames(m MemberOptions) []string {
	names := make([]string, m.Nodes)
	for i := range names {
		names[i] = fmt.Sprintf("%s-node%d", m.Name, i+1)
	}
	return names
}
