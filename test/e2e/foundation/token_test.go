package foundation

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/fleetgate/fleetgate/bootstrap/token"
	"github.com/fleetgate/fleetgate/certs"
	"github.com/fleetgate/fleetgate/test/e2e/framework"
)

// asToken runs kubectl against the gateway with only a bearer token (no client certificate).
func asToken(t *testing.T, tok string, args ...string) framework.Result {
	t.Helper()
	ca := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(ca, framework.Env.GatewayConfig.CAData, 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(t.TempDir(), "empty.kubeconfig")
	if err := os.WriteFile(empty, []byte("apiVersion: v1\nkind: Config\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return framework.KubectlResult(t, empty, append([]string{"--server", framework.Env.GatewayURL, "--certificate-authority", ca, "--token", tok}, args...)...)
}

// TestBootstrapTokens: token create prints the register command with the gateway's address and CA
// pin; the token is kept in the host's kube-system, authenticates as system:bootstrap:<id> and may
// do nothing else; token list shows it; deleted or expired, it is refused (401), and the host's
// tokencleaner removes the expired one.
func TestBootstrapTokens(t *testing.T) {
	r := framework.Fleetgate(t, "token", "create", "--kubeconfig", framework.Env.GatewayKubeconfig, "--print-register-command", "--description", "e2e")
	if r.Err != nil {
		t.Fatalf("token create: %v\n%s%s", r.Err, r.Stdout, r.Stderr)
	}
	m := regexp.MustCompile(`^fleetgate register (127\.0\.0\.1:\d+) --token ([a-z0-9]{6})\.([a-z0-9]{16}) --discovery-token-ca-cert-hash (sha256:[0-9a-f]{64})\n$`).FindStringSubmatch(r.Stdout)
	if m == nil {
		t.Fatalf("token create --print-register-command printed %q", r.Stdout)
	}
	block, _ := pem.Decode(framework.Env.GatewayConfig.CAData)
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.TrimPrefix(framework.Env.GatewayURL, "https://"); m[1] != want || m[4] != certs.PinHash(ca) {
		t.Errorf("register command names %s and %s, want the gateway %s and its CA's pin %s", m[1], m[4], want, certs.PinHash(ca))
	}
	id, tok := m[2], m[2]+"."+m[3]

	list := framework.Fleetgate(t, "token", "list", "--kubeconfig", framework.Env.GatewayKubeconfig)
	if !regexp.MustCompile(`(?m)^` + id + `\s+2[34]h\d+m\d+s\s+\S+\s+authentication,signing\s+e2e\s+system:bootstrappers,system:bootstrappers:fleetgate$`).MatchString(list.Stdout) {
		t.Errorf("token list does not show %s with its TTL, usages, description and group:\n%s%s", id, list.Stdout, list.Stderr)
	}
	if strings.Contains(list.Stdout, m[3]) {
		t.Errorf("token list shows the token's secret:\n%s", list.Stdout)
	}
	if who := asToken(t, tok, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"); who.Stdout != "system:bootstrap:"+id {
		t.Errorf("the token authenticates as %q (%v %s), want system:bootstrap:%s", who.Stdout, who.Err, who.Stderr, id)
	}
	for _, args := range [][]string{{"get", "configmaps", "-A"}, {"get", "secrets", "-n", "kube-system"}, {"create", "configmap", "x"}, {"get", "clusters"}} {
		if r := asToken(t, tok, args...); r.Err == nil || !strings.Contains(r.Stderr, "Forbidden") && !strings.Contains(r.Stderr, "forbidden") {
			t.Errorf("bootstrap token: kubectl %v: %v\n%s%s; want forbidden", args, r.Err, r.Stdout, r.Stderr)
		}
	}

	// cluster-info, read without credentials, is signed for the token and names the gateway and
	// its CA.
	server, caPEM, err := token.VerifyClusterInfo(clusterInfo(t), id, m[3])
	if err != nil || server != framework.Env.GatewayURL || string(caPEM) != string(framework.Env.GatewayConfig.CAData) {
		t.Errorf("cluster-info for token %s: %q %v, want the gateway %s and its CA", id, server, err, framework.Env.GatewayURL)
	}
	if r := framework.Fleetgate(t, "token", "delete", "--kubeconfig", framework.Env.GatewayKubeconfig, id); r.Err != nil || !strings.Contains(r.Stdout, id) {
		t.Fatalf("token delete: %v\n%s%s", r.Err, r.Stdout, r.Stderr)
	}
	framework.Eventually(t, 30*time.Second, func() error {
		if _, _, err := token.VerifyClusterInfo(clusterInfo(t), id, m[3]); err == nil {
			return fmt.Errorf("cluster-info is still signed for deleted token %s", id)
		}
		return nil
	})
	refused := func(tok string) func() error {
		return func() error {
			r := asToken(t, tok, "auth", "whoami")
			if r.Err == nil || !strings.Contains(r.Stderr, "Unauthorized") {
				return fmt.Errorf("kubectl auth whoami with the token: %v %s%s, want Unauthorized", r.Err, r.Stdout, r.Stderr)
			}
			return nil
		}
	}
	// The gateway caches TokenReview answers for --auth-cache-ttl (10s).
	framework.Eventually(t, 30*time.Second, refused(tok))

	r = framework.Fleetgate(t, "token", "create", "--kubeconfig", framework.Env.GatewayKubeconfig, "--ttl", "3s")
	short := strings.TrimSpace(r.Stdout)
	if r.Err != nil || !regexp.MustCompile(`^[a-z0-9]{6}\.[a-z0-9]{16}$`).MatchString(short) {
		t.Fatalf("token create --ttl 3s: %v %q %s", r.Err, r.Stdout, r.Stderr)
	}
	framework.Eventually(t, 40*time.Second, refused(short))
	framework.Eventually(t, time.Minute, func() error {
		if l := framework.Fleetgate(t, "token", "list", "--kubeconfig", framework.Env.GatewayKubeconfig); strings.Contains(l.Stdout, short[:6]) {
			return fmt.Errorf("the expired token is still listed (the host's tokencleaner removes it):\n%s", l.Stdout)
		}
		return nil
	})
	if r := framework.Fleetgate(t, "token", "delete", "--kubeconfig", framework.Env.GatewayKubeconfig, "no-such"); r.Err == nil || !strings.Contains(r.Stderr, `"no-such" is not a bootstrap token ID`) {
		t.Errorf("token delete no-such: %v %s", r.Err, r.Stderr)
	}
	if r := framework.Fleetgate(t, "token", "delete", "--kubeconfig", framework.Env.GatewayKubeconfig, id); r.Err == nil || !strings.Contains(r.Stderr, "bootstrap token "+id+" not found") {
		t.Errorf("token delete of a deleted token: %v %s", r.Err, r.Stderr)
	}
}

// clusterInfo reads the gateway's cluster-info as a registering member does: no credentials, the
// gateway's CA not yet trusted (the pin checks it afterwards).
func clusterInfo(t *testing.T) *corev1.ConfigMap {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // loopback; what it says is checked by signature and pin
	resp, err := c.Get(framework.Env.GatewayURL + token.ClusterInfoPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var cm corev1.ConfigMap
	if err := json.NewDecoder(resp.Body).Decode(&cm); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET cluster-info without credentials: %d %v", resp.StatusCode, err)
	}
	return &cm
}
