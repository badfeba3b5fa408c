package app

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/fleetgate/fleetgate/bootstrap"
	"github.com/fleetgate/fleetgate/deploy"
	"github.com/fleetgate/fleetgate/localenv"
	"github.com/fleetgate/fleetgate/localenv/envtest"
)

// TestRegisterInstallsAgent registers a member with a real gateway and has register install the
// agent's Deployment, Secret, ConfigMap and RBAC there (no kubelet runs: the agent never starts).
func TestRegisterInstallsAgent(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the real binaries and bin/fleetgate in $FLEETGATE_BIN (`make tools build`); skipped under -short")
	}
	env := envtest.ForTest(t, localenv.Options{Gateway: true, Members: []localenv.MemberOptions{{}}})
	ctx := context.Background()
	member := env.Member("member1")
	kube, err := kubernetes.NewForConfig(member.Config)
	if err != nil {
		t.Fatal(err)
	}
	registerArgs := func(cluster string) []string {
		t.Helper()
		out, err := runCommand(t, "token", "create", "--print-register-command", "--kubeconfig", env.GatewayKubeconfig)
		if err != nil {
			t.Fatalf("token create: %v\n%s", err, out)
		}
		args := strings.Fields(strings.TrimSpace(out))[1:] // drop "fleetgate"
		return append(args, "--cluster-name", cluster)
	}

	dir := t.TempDir()
	args := registerArgs("member1")
	gateway := args[1]
	out, err := runCommand(t, append(args, "--dir", dir, "--kubeconfig", member.Kubeconfig, "--image", "example.com/fleetgate:v2")...)
	if err != nil {
		t.Fatalf("register --kubeconfig: %v\n%s", err, out)
	}
	if !strings.Contains(out, "deployment.apps/"+deploy.AgentDeployment) || !strings.Contains(out, "cluster(member1) joins once it runs") {
		t.Errorf("register printed:\n%s", out)
	}
	d, err := kube.AppsV1().Deployments(deploy.Namespace).Get(ctx, deploy.AgentDeployment, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("agent deployment: %v", err)
	}
	if c := d.Spec.Template.Spec.Containers[0]; c.Image != "example.com/fleetgate:v2" {
		t.Errorf("agent image %s, want --image", c.Image)
	}
	cm, err := kube.CoreV1().ConfigMaps(deploy.Namespace).Get(ctx, deploy.AgentConfigMap, metav1.GetOptions{})
	if err != nil || cm.Data[deploy.AgentGatewayKey] != gateway {
		t.Errorf("agent ConfigMap %v (err %v), want gateway %s", cm.Data, err, gateway)
	}
	s, err := kube.CoreV1().Secrets(deploy.Namespace).Get(ctx, deploy.AgentSecret, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("agent secret: %v", err)
	}
	for _, f := range []string{bootstrap.AgentCredentialsFile, bootstrap.GatewayCAFile} {
		want, _ := os.ReadFile(filepath.Join(dir, f))
		if len(want) == 0 || !bytes.Equal(s.Data[f], want) {
			t.Errorf("agent secret %s differs from register's file", f)
		}
	}
	if _, err := kube.RbacV1().ClusterRoleBindings().Get(ctx, "fleetgate:agent", metav1.GetOptions{}); err != nil {
		t.Errorf("agent ClusterRoleBinding: %v", err)
	}

	// The agent writes a renewed certificate into that Secret, keeping the gateway CA.
	renewed := []byte("-----BEGIN CERTIFICATE-----\nrenewed\n")
	if err := bootstrap.SecretCredentials(kube, deploy.Namespace, deploy.AgentSecret)(ctx, renewed); err != nil {
		t.Fatal(err)
	}
	s, err = kube.CoreV1().Secrets(deploy.Namespace).Get(ctx, deploy.AgentSecret, metav1.GetOptions{})
	if err != nil || !bytes.Equal(s.Data[bootstrap.AgentCredentialsFile], renewed) || len(s.Data[bootstrap.GatewayCAFile]) == 0 {
		t.Errorf("after SecretCredentials: %v, %v", err, s.Data)
	}

	// Without --kubeconfig register prints how to run the agent, as before.
	out, err = runCommand(t, append(registerArgs("other"), "--dir", t.TempDir())...)
	if err != nil || !strings.Contains(out, "Run its agent: fleetgate agent "+gateway) {
		t.Errorf("register without --kubeconfig: %v\n%s", err, out)
	}
	if _, err := runCommand(t, append(registerArgs("third"), "--image", "x:1")...); err == nil || !strings.Contains(err.Error(), "--image: only with --kubeconfig") {
		t.Errorf("register --image without --kubeconfig: %v", err)
	}
}
