package localenv

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path"
	"strconv"
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
// commands locally (in the member's directory), a ClusterLogs that serves the CRI-format file
// podLog for every container's `kubectl logs`, a ClusterAttach that streams the same file to
// `kubectl attach`, and a ClusterPortForward that forwards every pod port to forwardTo (the
// member's own apiserver, a TCP service already on loopback, so `kubectl port-forward` reaches
// something real and opens no access the member did not already give).
func kwokConfig(workDir, podLog, forwardTo string) ([]byte, error) {
	host, port, err := net.SplitHostPort(forwardTo)
	if err != nil {
		return nil, fmt.Errorf("port-forward target %q: %w", forwardTo, err)
	}
	portN, err := strconv.Atoi(port)
	if err != nil {
		return nil, fmt.Errorf("port-forward target %q: %w", forwardTo, err)
	}
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
		{
			"apiVersion": "kwok.x-k8s.io/v1alpha1",
			"kind":       "ClusterAttach",
			"metadata":   map[string]any{"name": "pod-log"},
			"spec":       map[string]any{"attaches": []any{map[string]any{"logsFile": podLog}}},
		},
		{
			"apiVersion": "kwok.x-k8s.io/v1alpha1",
			"kind":       "ClusterPortForward",
			"metadata":   map[string]any{"name": "to-apiserver"},
			"spec":       map[string]any{"forwards": []any{map[string]any{"target": map[string]any{"address": host, "port": portN}}}},
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

// AppendPodLog adds line to the log every kwok container of a workload member serves: `kubectl
// attach` (which follows the file from its end) shows it, and `kubectl logs` from then on.
func (c *Cluster) AppendPodLog(line string) error {
	if !c.Workload {
		return fmt.Errorf("%s has no kwok pods", c.Name)
	}
	f, err := os.OpenFile(c.layout.path(podLogFile), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "%s stdout F %s\n", time.Now().UTC().Format(time.RFC3339Nano), line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
