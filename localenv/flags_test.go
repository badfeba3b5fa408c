package localenv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

func TestFreePorts(t *testing.T) {
	ports, err := freePorts(20)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] {
			t.Errorf("port %d handed out twice", p)
		}
		seen[p] = true
		if hi := ephemeralLow(); hi-lowestPort >= 1000 && (p < lowestPort || p >= hi) {
			t.Errorf("port %d outside [%d,%d)", p, lowestPort, hi)
		}
		l, err := net.Listen("tcp", hostPort(p))
		if err != nil {
			t.Errorf("port %d is not free after freePorts: %v", p, err)
			continue
		}
		l.Close()
	}
}

func testLayout() clusterLayout {
	return clusterLayout{name: "member1", dir: "/s/clusters/member1", etcdURL: "http://127.0.0.1:1", apiPort: 2, kwokPort: 3}
}

// flagMap parses --name=value arguments, failing on duplicates and on other forms.
func flagMap(t *testing.T, args []string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, a := range args {
		name, value, _ := strings.Cut(a, "=")
		if !strings.HasPrefix(name, "--") {
			t.Fatalf("argument %q is not --name[=value]", a)
		}
		if _, dup := m[name]; dup {
			t.Fatalf("flag %s given twice", name)
		}
		m[name] = value
	}
	return m
}

func TestComponentArgs(t *testing.T) {
	l := testLayout()
	tests := []struct {
		name    string
		args    []string
		want    map[string]string
		without []string
	}{
		{"member apiserver", apiserverArgs(l, true), map[string]string{
			"--etcd-prefix":                      "/member1",
			"--etcd-servers":                     "http://127.0.0.1:1",
			"--secure-port":                      "2",
			"--bind-address":                     "127.0.0.1",
			"--advertise-address":                "127.0.0.1",
			"--endpoint-reconciler-type":         "none",
			"--kubelet-preferred-address-types":  "InternalIP",
			"--service-account-signing-key-file": "/s/clusters/member1/sa.key",
			"--client-ca-file":                   "/s/clusters/member1/ca.crt",
			"--authorization-mode":               "RBAC",
		}, []string{"--requestheader-client-ca-file"}},
		{"host apiserver", apiserverArgs(l, false), map[string]string{
			"--etcd-prefix":                        "/member1",
			"--requestheader-client-ca-file":       "/s/clusters/member1/front-proxy-ca.crt",
			"--requestheader-allowed-names":        GatewayFrontProxyUser,
			"--requestheader-username-headers":     "X-Remote-User",
			"--requestheader-uid-headers":          "X-Remote-Uid",
			"--requestheader-group-headers":        "X-Remote-Group",
			"--requestheader-extra-headers-prefix": "X-Remote-Extra-",
		}, []string{"--kubelet-preferred-address-types"}},
		{"host controller-manager", controllerManagerArgs(l, "/s/host.kubeconfig", true), map[string]string{
			"--controllers":  hostControllers,
			"--leader-elect": "false",
			"--secure-port":  "0",
			"--kubeconfig":   "/s/host.kubeconfig",
		}, []string{"--cluster-signing-cert-file"}},
		{"member controller-manager", controllerManagerArgs(l, "/s/member1.kubeconfig", false), map[string]string{
			"--leader-elect":             "false",
			"--cluster-signing-key-file": "/s/clusters/member1/ca.key",
		}, []string{"--controllers"}},
		{"kwok", kwokArgs(l, "/s/member1.kubeconfig"), map[string]string{
			"--node-ip":        "127.0.0.1",
			"--node-port":      "3",
			"--server-address": "127.0.0.1:3",
			"--manage-nodes-with-annotation-selector": "kwok.x-k8s.io/node=fake",
			"--config":        "/s/clusters/member1/kwok.yaml",
			"--tls-cert-file": "/s/clusters/member1/kwok.crt",
		}, nil},
		{"member audit log", auditArgs(l), map[string]string{
			"--audit-policy-file": "/s/clusters/member1/audit-policy.yaml",
			"--audit-log-path":    "/s/clusters/member1/audit.log",
			"--audit-log-format":  "json",
		}, nil},
		{"etcd", etcdArgs("/s/etcd", 4, 5), map[string]string{
			"--listen-client-urls": "http://127.0.0.1:4",
			"--initial-cluster":    "localenv=http://127.0.0.1:5",
			"--unsafe-no-fsync":    "",
			"--data-dir":           "/s/etcd",
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := flagMap(t, tt.args)
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			for _, k := range tt.without {
				if _, ok := got[k]; ok {
					t.Errorf("unexpected %s", k)
				}
			}
		})
	}
}

func TestGatewayArgs(t *testing.T) {
	got := gatewayArgs(clusterLayout{name: "host", dir: "/s/host"}, 7, "--a", "--b=c")
	want := []string{"serve", "--kubeconfig", "/s/host/fleetgate-gateway.kubeconfig",
		"--host-front-proxy-cert-file", "/s/host/front-proxy-client.crt", "--host-front-proxy-key-file", "/s/host/front-proxy-client.key",
		"--bind-address", "127.0.0.1",
		"--secure-port", "7", "--advertise-address", "127.0.0.1",
		"--cluster-failure-threshold", "3s", "--cluster-success-threshold", "1s", "--a", "--b=c"}
	if !slices.Equal(got, want) {
		t.Errorf("gatewayArgs = %q, want %q", got, want)
	}
}

func TestKwokConfig(t *testing.T) {
	data, err := kwokConfig("/work", "/work/pod.log", "127.0.0.1:6443")
	if err != nil {
		t.Fatal(err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var kinds []string
	for {
		var u unstructured.Unstructured
		if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode: %v\n%s", err, data)
		}
		if u.Object == nil {
			continue
		}
		kinds = append(kinds, u.GetKind()+"/"+u.GetName())
		switch u.GetKind() {
		case "ClusterLogs":
			if f, _, _ := unstructured.NestedSlice(u.Object, "spec", "logs"); len(f) != 1 || f[0].(map[string]any)["logsFile"] != "/work/pod.log" {
				t.Errorf("ClusterLogs spec.logs = %v", f)
			}
		case "ClusterAttach":
			if f, _, _ := unstructured.NestedSlice(u.Object, "spec", "attaches"); len(f) != 1 || f[0].(map[string]any)["logsFile"] != "/work/pod.log" {
				t.Errorf("ClusterAttach spec.attaches = %v", f)
			}
		case "ClusterPortForward":
			f, _, _ := unstructured.NestedSlice(u.Object, "spec", "forwards")
			if len(f) != 1 || fmt.Sprint(f[0]) != "map[target:map[address:127.0.0.1 port:6443]]" {
				t.Errorf("ClusterPortForward spec.forwards = %v", f)
			}
		case "ClusterExec":
			if f, _, _ := unstructured.NestedSlice(u.Object, "spec", "execs"); len(f) != 1 {
				t.Errorf("ClusterExec spec.execs = %v", f)
			}
		}
	}
	slices.Sort(kinds)
	want := []string{"ClusterAttach/pod-log", "ClusterExec/local", "ClusterLogs/pod-log", "ClusterPortForward/to-apiserver", "Stage/node-heartbeat", "Stage/node-initialize",
		"Stage/pod-complete", "Stage/pod-delete", "Stage/pod-ready"}
	if !slices.Equal(kinds, want) {
		t.Errorf("kwok config objects = %v, want %v", kinds, want)
	}
}

func TestPodLogIsCRIFormat(t *testing.T) {
	line := regexp.MustCompile(`^\S+ stdout F .+$`)
	lines := strings.Split(strings.TrimSpace(string(podLog("member1", time.Now()))), "\n")
	if len(lines) != 1+len(PodLogLines) {
		t.Fatalf("got %d lines", len(lines))
	}
	for _, l := range lines {
		ts, _, _ := strings.Cut(l, " ")
		if _, err := time.Parse(time.RFC3339Nano, ts); err != nil || !line.MatchString(l) {
			t.Errorf("not a CRI log line: %q (%v)", l, err)
		}
	}
}

func TestFakeNode(t *testing.T) {
	m, err := MemberOptions{Workload: true, NodeCPU: "4", NodeMemory: "8Gi", Nodes: 2}.complete(0)
	if err != nil {
		t.Fatal(err)
	}
	if names := nodeNames(m); !slices.Equal(names, []string{"member1-node1", "member1-node2"}) {
		t.Errorf("nodeNames = %v", names)
	}
	n := fakeNode("member1-node1", m)
	if n.Labels[NodeLabel] != NodeLabelValue || n.Annotations[kwokNodeAnnotation] != "fake" {
		t.Errorf("labels %v annotations %v", n.Labels, n.Annotations)
	}
	if cpu := n.Status.Allocatable.Cpu().String(); cpu != "4" {
		t.Errorf("allocatable cpu %s", cpu)
	}
	if pods := n.Status.Capacity.Pods().Value(); pods != DefaultNodePods {
		t.Errorf("capacity pods %d", pods)
	}
}

func TestOptionsComplete(t *testing.T) {
	t.Setenv("FLEETGATE_BIN", "/opt/bin")
	tests := []struct {
		name    string
		members []MemberOptions
		wantErr string
	}{
		{"defaults", []MemberOptions{{}, {Workload: true}}, ""},
		{"duplicate", []MemberOptions{{Name: "a"}, {Name: "a"}}, "already used"},
		{"host is taken", []MemberOptions{{Name: "host"}}, "already used"},
		{"bad name", []MemberOptions{{Name: "Member_1"}}, "invalid name"},
		{"bad cpu", []MemberOptions{{Workload: true, NodeCPU: "lots"}}, "NodeCPU"},
		{"negative nodes", []MemberOptions{{Workload: true, Nodes: -1}}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := Options{Members: tt.members}.complete()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.BinDir != "/opt/bin" || !filepath.IsAbs(o.Dir) || filepath.Base(o.Dir) != DefaultDir || o.Out == nil {
				t.Errorf("defaults: %+v", o)
			}
			w := o.Members[1]
			if o.Members[0].Name != "member1" || w.Name != "member2" || w.Nodes != 1 ||
				w.NodeCPU != DefaultNodeCPU || w.NodeMemory != DefaultNodeMemory || w.NodePods != DefaultNodePods {
				t.Errorf("members: %+v", o.Members)
			}
		})
	}
}

func TestDefaultBinDirFindsRepoRoot(t *testing.T) {
	t.Setenv("FLEETGATE_BIN", "")
	root := t.TempDir()
	sub := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module "+modulePath+"\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A nested module (like hack/tools) is skipped.
	if err := os.WriteFile(filepath.Join(root, "a", "go.mod"), []byte("module example.com/tools\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(sub)
	got, err := DefaultBinDir()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "bin"); got != want {
		t.Errorf("DefaultBinDir = %s, want %s", got, want)
	}
}

func TestCheckBinariesNamesTheMissingOne(t *testing.T) {
	err := checkBinaries(Options{BinDir: t.TempDir(), Members: []MemberOptions{{Workload: true}}})
	if !errors.Is(err, ErrBinaryMissing) || !strings.Contains(err.Error(), "etcd") || !strings.Contains(err.Error(), "make tools") {
		t.Errorf("checkBinaries = %v", err)
	}
}
