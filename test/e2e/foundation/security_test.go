package foundation

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fleetgate/fleetgate/certs"
	"github.com/fleetgate/fleetgate/test/e2e/framework"
)

// gatewayGet does a GET on the gateway with the given client certificate (or none) and returns the code
// and the Status reason.
func gatewayGet(t *testing.T, path string, cert *tls.Certificate) (int, metav1.StatusReason) {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(framework.Env.GatewayConfig.CAData)
	cfg := &tls.Config{RootCAs: pool}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 30 * time.Second}
	resp, err := c.Get(framework.Env.GatewayURL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var s metav1.Status
	_ = json.Unmarshal(body, &s)
	return resp.StatusCode, s.Reason
}

func TestUnauthenticatedRequestsAreRefused(t *testing.T) {
	if code, reason := gatewayGet(t, "/api/v1/namespaces/default/configmaps", nil); code != 401 || reason != metav1.StatusReasonUnauthorized {
		t.Errorf("no credentials: %d %s, want 401 Unauthorized", code, reason)
	}
	// A client certificate from another CA, even claiming system:masters, is nobody.
	other, err := certs.NewCA("not-the-gateway-ca")
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := other.Issue(certs.Request{CommonName: "fleetgate-admin", Organization: []string{"system:masters"},
		Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := gatewayGet(t, "/api/v1/namespaces/default/configmaps", &pair); code != 401 {
		t.Errorf("certificate of another CA: %d, want 401", code)
	}
	// Health endpoints stay open.
	for _, p := range []string{"/healthz", "/readyz", "/livez"} {
		if code, _ := gatewayGet(t, p, nil); code != 200 {
			t.Errorf("%s anonymously: %d, want 200", p, code)
		}
	}
}

// TestServiceAccountTokenGetsItsOwnRBAC: a host ServiceAccount token is checked by TokenReview, and
// the host's RBAC for that account applies; impersonation needs the host's permission.
func TestServiceAccountTokenGetsItsOwnRBAC(t *testing.T) {
	admin := framework.Env.GatewayKubeconfig
	ns := "e2e-rbac"
	framework.Kubectl(t, admin, "create", "namespace", ns)
	t.Cleanup(func() { framework.KubectlResult(t, admin, "delete", "namespace", ns, "--wait=false") })
	framework.Kubectl(t, admin, "-n", ns, "create", "serviceaccount", "reader")
	framework.Kubectl(t, admin, "-n", ns, "create", "configmap", "visible", "--from-literal=a=b")
	token := strings.TrimSpace(framework.Kubectl(t, admin, "-n", ns, "create", "token", "reader"))

	kc := filepath.Join(t.TempDir(), "reader.kubeconfig")
	if err := (certs.Kubeconfig{Name: "reader", Server: framework.Env.GatewayURL, CAPEM: framework.Env.GatewayConfig.CAData, Token: token}).Write(kc); err != nil {
		t.Fatal(err)
	}
	r := framework.KubectlResult(t, kc, "-n", ns, "get", "configmaps")
	if r.Err == nil || !strings.Contains(r.Stderr, "Forbidden") || !strings.Contains(r.Stderr, "system:serviceaccount:"+ns+":reader") {
		t.Fatalf("reader without RBAC: want Forbidden naming the account, got %v\n%s%s", r.Err, r.Stdout, r.Stderr)
	}
	framework.Kubectl(t, admin, "-n", ns, "create", "role", "read-cm", "--verb=get,list", "--resource=configmaps")
	framework.Kubectl(t, admin, "-n", ns, "create", "rolebinding", "read-cm", "--role=read-cm", "--serviceaccount="+ns+":reader")
	framework.Eventually(t, 30*time.Second, func() error {
		r := framework.KubectlResult(t, kc, "-n", ns, "get", "configmap", "visible", "-o", "name")
		if r.Err != nil {
			return &cmdError{r}
		}
		return nil
	})
	// Still no rights beyond the Role.
	if r := framework.KubectlResult(t, kc, "-n", ns, "delete", "configmap", "visible"); r.Err == nil || !strings.Contains(r.Stderr, "Forbidden") {
		t.Errorf("reader deleting: want Forbidden, got %v %s", r.Err, r.Stderr)
	}
	// A non-admin may not impersonate.
	if r := framework.KubectlResult(t, kc, "--as=fleetgate-admin", "--as-group=system:masters", "-n", ns, "get", "configmaps"); r.Err == nil || !strings.Contains(r.Stderr, "Forbidden") || !strings.Contains(r.Stderr, "impersonate") {
		t.Errorf("reader impersonating admin: want Forbidden (impersonate), got %v %s", r.Err, r.Stderr)
	}
	// The admin may; the host then sees the impersonated user.
	who := framework.Kubectl(t, admin, "--as=jane", "--as-group=qa", "auth", "whoami")
	if !strings.Contains(who, "jane") || !strings.Contains(who, "qa") {
		t.Errorf("admin --as=jane auth whoami:\n%s", who)
	}
	if r := framework.KubectlResult(t, admin, "--as=jane", "-n", ns, "get", "configmaps"); r.Err == nil || !strings.Contains(r.Stderr, `User "jane" cannot list`) {
		t.Errorf("admin --as=jane get configmaps: want jane's Forbidden, got %v %s", r.Err, r.Stderr)
	}
}

type cmdError struct{ r framework.Result }

func (e *cmdError) Error() string { return e.r.Err.Error() + ": " + e.r.Stderr }

// TestClusterCredentialsStayInFleetgateSystem: a Cluster naming a Secret outside fleetgate-system,
// or a plain-http endpoint, is refused at admission, naming the field; nothing is stored.
func TestClusterCredentialsStayInFleetgateSystem(t *testing.T) {
	gw := framework.Env.GatewayKubeconfig
	for _, tc := range []struct{ spec, field string }{
		{`{syncMode: Push, apiEndpoint: "https://127.0.0.1:1", secretRef: {namespace: kube-system, name: admin-token}}`, "spec.secretRef.namespace"},
		{`{syncMode: Push, apiEndpoint: "http://127.0.0.1:1", secretRef: {namespace: fleetgate-system, name: stolen}}`, "spec.apiEndpoint"},
	} {
		r := framework.KubectlStdin(t, gw, "apiVersion: cluster.karmada.io/v1alpha1\nkind: Cluster\nmetadata: {name: thief}\nspec: "+tc.spec+"\n", "apply", "-f", "-")
		if r.Err == nil || !strings.Contains(r.Stderr, tc.field) {
			t.Errorf("Cluster with %s: %v\n%s%s; want refused naming %s", tc.spec, r.Err, r.Stdout, r.Stderr, tc.field)
		}
	}
	if r := framework.KubectlResult(t, gw, "get", "cluster", "thief"); r.Err == nil {
		t.Errorf("a refused Cluster was stored: %s", r.Stdout)
		framework.KubectlResult(t, gw, "delete", "cluster", "thief")
	}
}
