package foundation

import (
	"crypto/x509"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/bootstrap"
	"github.com/fleetgate/fleetgate/test/e2e/framework"
)

// TestRegister: register checks cluster-info against the pin and stops before sending the token
// when it does not match; with the right pin it gets an agent certificate for its own key, signed
// by the gateway's CA for client authentication only, and the Cluster exists in Pull mode. A Push
// cluster's name is refused, so are deleted tokens and callers without a bootstrap token.
func TestRegister(t *testing.T) {
	gw := framework.Env.GatewayKubeconfig
	r := framework.Fleetgate(t, "token", "create", "--kubeconfig", gw, "--print-register-command")
	m := regexp.MustCompile(`^fleetgate register (\S+) --token (\S+) --discovery-token-ca-cert-hash (sha256:[0-9a-f]{64})\n$`).FindStringSubmatch(r.Stdout)
	if r.Err != nil || m == nil {
		t.Fatalf("token create --print-register-command: %v %q %s", r.Err, r.Stdout, r.Stderr)
	}
	addr, tok, pin := m[1], m[2], m[3]
	register := func(cluster, pin, tok string) framework.Result {
		return framework.Fleetgate(t, "register", addr, "--token", tok, "--discovery-token-ca-cert-hash", pin,
			"--cluster-name", cluster, "--dir", filepath.Join(t.TempDir(), cluster))
	}
	t.Cleanup(func() { framework.KubectlResult(t, gw, "delete", "cluster", "pull-a", "--ignore-not-found") })

	wrong := pin[:len(pin)-1] + map[bool]string{true: "0", false: "1"}[pin[len(pin)-1] != '0']
	if r := register("pull-a", wrong, tok); r.Err == nil || !strings.Contains(r.Stderr, "stopping before the token is sent") {
		t.Errorf("register with a wrong pin: %v\n%s%s", r.Err, r.Stdout, r.Stderr)
	}
	if out := framework.KubectlResult(t, gw, "get", "cluster", "pull-a"); out.Err == nil {
		t.Errorf("a register that failed its pin created the Cluster: %s", out.Stdout)
	}

	dir := filepath.Join(t.TempDir(), "agent")
	r = framework.Fleetgate(t, "register", addr, "--token", tok, "--discovery-token-ca-cert-hash", pin, "--cluster-name", "pull-a", "--dir", dir)
	if r.Err != nil || !strings.Contains(r.Stdout, "[discovery]") || !strings.Contains(r.Stdout, "cluster(pull-a) is registered in Pull mode") {
		t.Fatalf("register: %v\n%s%s", r.Err, r.Stdout, r.Stderr)
	}
	if mode := framework.Kubectl(t, gw, "get", "cluster", "pull-a", "-o", "jsonpath={.spec.syncMode}"); mode != "Pull" {
		t.Errorf("Cluster pull-a syncMode %q, want Pull", mode)
	}
	pair, err := bootstrap.LoadAgentCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	cert := pair.Leaf
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(framework.Env.GatewayConfig.CAData)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("agent certificate does not verify for client auth against the gateway CA: %v", err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
		t.Error("agent certificate is good for server auth too")
	}
	if cert.Subject.CommonName != "system:fleetgate:agent:pull-a" || strings.Join(cert.Subject.Organization, ",") != "system:fleetgate:agents" {
		t.Errorf("agent certificate subject %v", cert.Subject)
	}
	// A bootstrap token cannot take over a registered Pull cluster: registering its name again would
	// admit the new certificate and shut its agent out at its next renewal. Nor a Push cluster's name.
	if r := register("pull-a", pin, tok); r.Err == nil || !strings.Contains(r.Stderr, "cluster pull-a is already registered") || !strings.Contains(r.Stderr, "unjoin") {
		t.Errorf("register pull-a again: %v\n%s%s", r.Err, r.Stdout, r.Stderr)
	}
	if got := framework.Kubectl(t, gw, "get", "cluster", "pull-a", "-o", "jsonpath={.metadata.annotations.fleetgate\\.io/agent-certificates}"); got != cert.SerialNumber.String() {
		t.Errorf("pull-a admits %q after the refused registration, want only the first agent's %s", got, cert.SerialNumber)
	}
	framework.Apply(t, gw, "apiVersion: cluster.karmada.io/v1alpha1\nkind: Cluster\nmetadata: {name: push-x}\nspec: {syncMode: Push, apiEndpoint: \"https://127.0.0.1:1\"}\n")
	t.Cleanup(func() { framework.KubectlResult(t, gw, "delete", "cluster", "push-x", "--ignore-not-found") })
	if r := register("push-x", pin, tok); r.Err == nil || !strings.Contains(r.Stderr, "cluster push-x is joined in Push mode") {
		t.Errorf("register over a Push cluster: %v\n%s", r.Err, r.Stderr)
	}
	// Only bootstrap tokens may register: the admin's certificate is refused.
	raw := framework.KubectlStdin(t, gw, `{"cluster":"pull-b","csr":"x"}`, "create", "--raw", bootstrap.RegisterPath, "-f", "-")
	if raw.Err == nil || !strings.Contains(raw.Stderr, "only fleetgate bootstrap tokens") {
		t.Errorf("register as the admin: %v\n%s%s", raw.Err, raw.Stdout, raw.Stderr)
	}
	framework.Fleetgate(t, "token", "delete", "--kubeconfig", gw, tok)
	framework.Eventually(t, 30*time.Second, func() error {
		if r := register("pull-c", pin, tok); r.Err == nil || !strings.Contains(r.Stderr, "not signed for token") && !strings.Contains(r.Stderr, "Unauthorized") {
			return fmt.Errorf("register with a deleted token: %v %s", r.Err, r.Stderr)
		}
		return nil
	})
}
