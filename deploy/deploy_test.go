package deploy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"

	"github.com/fleetgate/fleetgate/deploy"
	"github.com/fleetgate/fleetgate/localenv"
	"github.com/fleetgate/fleetgate/localenv/envtest"
)

// TestOverlays builds every overlay with the real kubectl's kustomize, checks that Render (what init
// and register apply) builds the same objects, and has a real kube-apiserver accept the result with
// `kubectl apply --dry-run=server`. No kubelet runs here, so that is as far as it goes: nothing is
// scheduled or started.
func TestOverlays(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the real kubectl, etcd and kube-apiserver in $FLEETGATE_BIN (default bin/, `make tools`); skipped under -short")
	}
	kubectl := kubectlPath(t)
	built := map[string][]byte{}
	for _, o := range deploy.Overlays {
		t.Run("kustomize/"+o, func(t *testing.T) {
			out, err := run(context.Background(), nil, kubectl, "kustomize", o)
			if err != nil {
				t.Fatalf("kubectl kustomize deploy/%s: %v", o, err)
			}
			built[o] = out
			rendered, err := deploy.Render(deploy.Options{Overlay: o})
			if err != nil {
				t.Fatalf("Render(%s): %v", o, err)
			}
			assertSameObjects(t, decode(t, out), rendered)
		})
	}
	if t.Failed() {
		return
	}

	env := envtest.ForTest(t, localenv.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	host := []string{"--kubeconfig", env.Host.Kubeconfig}
	// The cert-manager overlay's Issuer and Certificate need cert-manager's CRDs.
	if _, err := run(ctx, nil, kubectl, append(host, "apply", "--server-side", "-f", "testdata/cert-manager.io_certificates.yaml", "-f", "testdata/cert-manager.io_issuers.yaml")...); err != nil {
		t.Fatal(err)
	}
	if _, err := run(ctx, nil, kubectl, append(host, "wait", "--for=condition=Established", "--timeout=60s", "crd/certificates.cert-manager.io", "crd/issuers.cert-manager.io")...); err != nil {
		t.Fatal(err)
	}
	// A server dry run of an object in a namespace that only the same dry run creates is refused
	// (the namespace does not exist), so the namespace is created for real first; everything else,
	// the Namespace object included, is then only dry-run.
	if _, err := run(ctx, nil, kubectl, append(host, "create", "namespace", deploy.Namespace)...); err != nil {
		t.Fatal(err)
	}
	for _, o := range deploy.Overlays {
		t.Run("dry-run/"+o, func(t *testing.T) {
			out, err := run(ctx, built[o], kubectl, append(host, "apply", "--dry-run=server", "-f", "-")...)
			if err != nil {
				t.Fatalf("kubectl apply --dry-run=server of deploy/%s: %v", o, err)
			}
			if n, want := strings.Count(string(out), "(server dry run)"), len(decode(t, built[o])); n != want {
				t.Errorf("%d objects accepted, want %d:\n%s", n, want, out)
			}
		})
	}
	kube, err := kubernetes.NewForConfig(env.Host.Config)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kube.AppsV1().Deployments(deploy.Namespace).Get(ctx, deploy.GatewayDeployment, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after the dry runs, Get deployment %s: %v, want NotFound", deploy.GatewayDeployment, err)
	}
}

func TestRenderOptions(t *testing.T) {
	objs, err := deploy.Render(deploy.Options{Overlay: deploy.Base, Image: "example.com/fleetgate:v9"})
	if err != nil {
		t.Fatal(err)
	}
	images := containerImages(find(t, objs, "Deployment", deploy.GatewayDeployment))
	if want := []string{"example.com/fleetgate:v9", "example.com/fleetgate:v9"}; !reflect.DeepEqual(images, want) {
		t.Errorf("gateway images %v, want %v (init container and gateway)", images, want)
	}
	if images := containerImages(find(t, objs, "Deployment", deploy.APIServerService)); !reflect.DeepEqual(images, []string{"registry.k8s.io/kube-apiserver:v1.37.2"}) {
		t.Errorf("apiserver image %v: --image must change the fleetgate image only", images)
	}

	objs, err = deploy.Render(deploy.Options{Overlay: deploy.Agent, Image: "example.com/fleetgate@sha256:0123",
		AgentGateway: "gw.example.com:8443", AgentFiles: map[string][]byte{"agent.pem": []byte("PEM")}})
	if err != nil {
		t.Fatal(err)
	}
	if got, _, _ := unstructured.NestedString(find(t, objs, "ConfigMap", deploy.AgentConfigMap).Object, "data", deploy.AgentGatewayKey); got != "gw.example.com:8443" {
		t.Errorf("agent ConfigMap gateway %q", got)
	}
	if got, _, _ := unstructured.NestedString(find(t, objs, "Secret", deploy.AgentSecret).Object, "data", "agent.pem"); got != "UEVN" {
		t.Errorf("agent Secret agent.pem %q, want base64 of PEM", got)
	}
	if images := containerImages(find(t, objs, "Deployment", deploy.AgentDeployment)); !reflect.DeepEqual(images, []string{"example.com/fleetgate@sha256:0123"}) {
		t.Errorf("agent image %v", images)
	}

	// The external address goes to serve as --external-address and into the certificates.
	for _, overlay := range []string{deploy.Base, deploy.CertManager} {
		objs, err = deploy.Render(deploy.Options{Overlay: overlay, GatewaySANs: []string{"gw.example.com"}, ExternalAddress: "gw.example.com:443"})
		if err != nil {
			t.Fatal(err)
		}
		args, _, _ := unstructured.NestedSlice(find(t, objs, "Deployment", deploy.GatewayDeployment).Object, "spec", "template", "spec", "containers")
		got := fmt.Sprint(args[0].(map[string]any)["args"])
		for _, want := range []string{"--external-address=gw.example.com:443", "--tls-san=gw.example.com"} {
			if !strings.Contains(got, want) {
				t.Errorf("%s: gateway args %s, want %s", overlay, got, want)
			}
		}
	}

	for _, bad := range []deploy.Options{
		{Overlay: "nope"},
		{Overlay: deploy.Base, Image: ":v1"},
		{Overlay: deploy.Base, Image: "x:"},
		{Overlay: deploy.Base, AgentGateway: "gw:443"},
		{Overlay: deploy.Agent, AgentFiles: map[string][]byte{"a/b": nil}},
	} {
		if _, err := deploy.Render(bad); err == nil {
			t.Errorf("Render(%+v): no error", bad)
		}
	}
}

func find(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("no %s %s rendered", kind, name)
	return nil
}

func containerImages(o *unstructured.Unstructured) []string {
	var images []string
	for _, field := range []string{"initContainers", "containers"} {
		cs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", field)
		for _, c := range cs {
			images = append(images, c.(map[string]any)["image"].(string))
		}
	}
	return images
}

// assertSameObjects compares kubectl's build with Render's, object by object and in order.
func assertSameObjects(t *testing.T, kubectl, rendered []*unstructured.Unstructured) {
	t.Helper()
	key := func(o *unstructured.Unstructured) string {
		return o.GetAPIVersion() + "/" + o.GetKind() + "/" + o.GetNamespace() + "/" + o.GetName()
	}
	want := map[string]*unstructured.Unstructured{}
	for _, o := range kubectl {
		want[key(o)] = o
	}
	if len(rendered) != len(kubectl) {
		t.Errorf("Render built %d objects, kubectl kustomize %d", len(rendered), len(kubectl))
	}
	for i, o := range rendered {
		if i < len(kubectl) && key(kubectl[i]) != key(o) {
			t.Errorf("object %d: Render built %s, kubectl kustomize %s (the order differs)", i, key(o), key(kubectl[i]))
		}
		w, ok := want[key(o)]
		if !ok {
			t.Errorf("Render built %s, kubectl kustomize did not", key(o))
			continue
		}
		if !reflect.DeepEqual(w.Object, o.Object) {
			t.Errorf("%s differs between kubectl kustomize and Render:\nkubectl: %v\nRender:  %v", key(o), w.Object, o.Object)
		}
	}
}

func decode(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []*unstructured.Unstructured
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); errors.Is(err, io.EOF) {
			return objs
		} else if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if len(raw) == 0 || string(raw) == "null" {
			continue
		}
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(raw); err != nil {
			t.Fatalf("decode: %v", err)
		}
		objs = append(objs, obj)
	}
}

func kubectlPath(t *testing.T) string {
	t.Helper()
	dir, err := localenv.DefaultBinDir()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "kubectl")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%v: the real kubectl is built into bin/ by `make tools`; FLEETGATE_BIN overrides the directory", err)
	}
	return p
}

// run runs kubectl in this directory (deploy/) with stdin and returns its stdout; the error carries
// stderr.
func run(ctx context.Context, stdin []byte, kubectl string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, kubectl, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(stdin), &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("kubectl %s: %w\n%s%s", strings.Join(args, " "), err, stderr.String(), stdout.String())
	}
	return stdout.Bytes(), nil
}
