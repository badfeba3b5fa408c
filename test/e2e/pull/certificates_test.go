package pull

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/fleetgate/fleetgate/bootstrap"
	"github.com/fleetgate/fleetgate/bootstrap/tunnel"
	"github.com/fleetgate/fleetgate/certs"
	"github.com/fleetgate/fleetgate/test/e2e/framework"
)

// issuerCA is the ClusterIssuer's CA, set by TestMain.
var issuerCA *x509.CertPool

// agentCert reads a member's current agent key and certificate (what its agent uses).
func agentCert(t *testing.T, member string) tls.Certificate {
	t.Helper()
	dir := framework.Env.Member(member).AgentDir()
	pair, err := bootstrap.LoadAgentCredentials(dir)
	if err != nil {
		t.Fatalf("%s's agent key and certificate: %v", member, err)
	}
	return pair
}

// checkIssuedByCertManager: the certificate chains to the ClusterIssuer's CA, not the gateway's,
// and a Ready CertificateRequest of the member holds it.
func checkIssuedByCertManager(t *testing.T, member string, cert *x509.Certificate) {
	t.Helper()
	opts := x509.VerifyOptions{Roots: issuerCA, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if _, err := cert.Verify(opts); err != nil {
		t.Errorf("%s's agent certificate is not issued by ClusterIssuer %s's CA: %v", member, issuer, err)
	}
	opts.Roots = x509.NewCertPool()
	opts.Roots.AppendCertsFromPEM(framework.Env.GatewayConfig.CAData)
	if _, err := cert.Verify(opts); err == nil {
		t.Errorf("%s's agent certificate verifies against the gateway's CA; want cert-manager's", member)
	}
	dyn := dynamic.NewForConfigOrDie(framework.Env.Host.Config)
	list, err := dyn.Resource(bootstrap.CertificateRequestsResource).Namespace(certs.Namespace).List(context.Background(),
		metav1.ListOptions{LabelSelector: bootstrap.ClusterLabel + "=" + member})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, cr := range list.Items {
		data, _ := json.Marshal(cr.Object["status"])
		var st struct {
			Certificate []byte `json:"certificate"`
			Conditions  []struct{ Type, Status string }
		}
		_ = json.Unmarshal(data, &st)
		ready := false
		for _, c := range st.Conditions {
			ready = ready || (c.Type == "Ready" && c.Status == "True")
		}
		if ready && strings.Contains(string(st.Certificate), strings.TrimSpace(string(certPEM(cert)))) {
			found = true
		}
	}
	if !found {
		t.Errorf("no Ready CertificateRequest labelled %s=%s in %s holds %s's agent certificate (%d requests)", bootstrap.ClusterLabel, member, certs.Namespace, member, len(list.Items))
	}
	if n := len(list.Items); n > bootstrap.DefaultKeep {
		t.Errorf("%d CertificateRequests of %s kept, want at most %d", n, member, bootstrap.DefaultKeep)
	}
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// TestCertificateRotation: with 2-minute certificates from cert-manager, member1's agent renews at
// least twice while requests go to member1 through its tunnel every 250ms; none fails, the tunnel
// is never reopened, and every certificate it had was cert-manager's.
func TestCertificateRotation(t *testing.T) {
	t.Parallel()
	first := agentCert(t, "member1").Leaf
	checkIssuedByCertManager(t, "member1", first)

	cfg := rest.CopyConfig(framework.Env.GatewayConfig)
	cfg.Host = framework.Env.GatewayURL + "/clusters/member1"
	cfg.Timeout = 10 * time.Second
	kube := kubernetes.NewForConfigOrDie(cfg)
	serials := []string{first.SerialNumber.String()}
	requests, failures := 0, 0
	timeout := time.After(3 * lifetime)
	// A request every 250ms (the load the renewals must not disturb) until two renewals are seen.
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for len(serials) < 3 {
		select {
		case <-timeout:
			t.Fatalf("%d renewals of member1's certificate within %s (serials %v), want 2", len(serials)-1, 3*lifetime, serials)
		case <-tick.C:
		}
		if _, err := kube.CoreV1().Namespaces().Get(context.Background(), "default", metav1.GetOptions{}); err != nil {
			failures++
			t.Errorf("request %d to member1 through its tunnel: %v", requests, err)
		}
		requests++
		cur := agentCert(t, "member1").Leaf
		if s := cur.SerialNumber.String(); s != serials[len(serials)-1] {
			serials = append(serials, s)
			checkIssuedByCertManager(t, "member1", cur)
		}
	}
	t.Logf("%d requests, %d failed, certificates %v", requests, failures, serials)
	if !time.Now().After(first.NotAfter) {
		t.Errorf("the test ended before the first certificate expired (%s)", first.NotAfter)
	}
	log, err := os.ReadFile(framework.Env.Member("member1").AgentLog())
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(log), "Renewed the agent certificate"); n < 2 {
		t.Errorf("member1's agent logged %d renewals, want at least 2", n)
	}
	if strings.Contains(string(log), "Tunnel to the gateway ended") {
		t.Errorf("member1's tunnel was reopened during the renewals:\n%s", log)
	}
}

// dialTunnel opens a tunnel connection to the gateway with cert and extra headers, as an agent
// would; it returns the HTTP status of the answer.
func dialTunnel(t *testing.T, cert tls.Certificate, header http.Header) (*websocket.Conn, int, string) {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(framework.Env.GatewayConfig.CAData)
	d := websocket.Dialer{TLSClientConfig: clientTLS(cert, roots), HandshakeTimeout: 10 * time.Second}
	url := "wss" + strings.TrimPrefix(framework.Env.GatewayURL, "https") + tunnel.Path
	ws, resp, err := d.Dial(url, header)
	if err == nil {
		return ws, http.StatusSwitchingProtocols, ""
	}
	if resp == nil {
		t.Fatalf("dial the tunnel: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return nil, resp.StatusCode, string(body)
}

// clientTLS presents cert whatever CAs the gateway names in its request, as the agent does (Go's
// client would otherwise hold back a certificate of cert-manager's CA, which the front door does
// not name).
func clientTLS(cert tls.Certificate, roots *x509.CertPool) *tls.Config {
	return &tls.Config{RootCAs: roots, GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }}
}

// member1Answers fails unless n requests to member1 through the gateway all succeed.
func member1Answers(t *testing.T, n int) {
	t.Helper()
	cfg := rest.CopyConfig(framework.Env.GatewayConfig)
	cfg.Host = framework.Env.GatewayURL + "/clusters/member1"
	kube := kubernetes.NewForConfigOrDie(cfg)
	for i := range n {
		if _, err := kube.Discovery().ServerVersion(); err != nil {
			t.Fatalf("request %d to member1: %v", i, err)
		}
	}
}

// TestForeignCertificates: member2's agent certificate cannot open or use member1's tunnel, even
// claiming member1 in remotedialer's own headers; a certificate of the agent subject from a CA the
// gateway does not trust is refused; member2's certificate cannot renew member1's. Then unjoin of
// member2 (Pull) closes its tunnel, and its certificate is refused from then on.
func TestForeignCertificates(t *testing.T) {
	m2 := agentCert(t, "member2")
	claim := http.Header{"X-API-Tunnel-Id": {"member1"}, "X-API-Tunnel-Token": {"forged"}}
	ws, code, body := dialTunnel(t, m2, claim)
	if code != http.StatusSwitchingProtocols {
		t.Fatalf("member2's certificate claiming member1: %d %s; want the tunnel opened, as member2", code, body)
	}
	// Had the gateway taken the claim, member1's requests would now be dialed through this
	// connection, which serves nothing.
	member1Answers(t, 20)
	ws.Close()

	untrusted, err := certs.NewCA("not the gateway")
	if err != nil {
		t.Fatal(err)
	}
	crt, key, err := untrusted.Issue(certs.Request{
		CommonName: bootstrap.AgentCommonName("member1"), Organization: []string{bootstrap.AgentGroup},
		Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(crt, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, code, body := dialTunnel(t, pair, nil); code != http.StatusUnauthorized || !strings.Contains(body, "unknown authority") {
		t.Errorf("an untrusted CA's certificate for member1: %d %s, want 401 unknown authority", code, body)
	}
	member1Answers(t, 1)

	if code, body := renew(t, m2, "member1"); code != http.StatusForbidden || !strings.Contains(body, "may renew only cluster member2") {
		t.Errorf("member2's certificate renewing member1's: %d %s, want 403", code, body)
	}

	r := framework.Fleetgate(t, "unjoin", "member2", "--kubeconfig", framework.Env.GatewayKubeconfig)
	if r.Err != nil {
		t.Fatalf("unjoin member2: %v\n%s%s", r.Err, r.Stdout, r.Stderr)
	}
	framework.Eventually(t, time.Minute, func() error {
		log, _ := os.ReadFile(framework.Env.Member("member2").AgentLog())
		if !strings.Contains(string(log), "cluster member2 is not registered") {
			return fmt.Errorf("member2's agent is not refused yet")
		}
		return nil
	})
	if _, code, body := dialTunnel(t, m2, nil); code != http.StatusForbidden || !strings.Contains(body, "not registered") {
		t.Errorf("member2's certificate after unjoin: %d %s, want 403 not registered", code, body)
	}
	if code, body := renew(t, m2, "member2"); code != http.StatusUnauthorized || !strings.Contains(body, "not registered") {
		t.Errorf("member2's certificate renewing after unjoin: %d %s, want 401 not registered", code, body)
	}
	member1Answers(t, 1)

	// member2 registered again under the same name: the new registration's certificate opens the
	// tunnel, the old one (a valid certificate of member2 from the same CA) stays refused.
	tc := framework.Fleetgate(t, "token", "create", "--kubeconfig", framework.Env.GatewayKubeconfig, "--print-register-command")
	m := regexp.MustCompile(`register (\S+) --token (\S+) --discovery-token-ca-cert-hash (\S+)`).FindStringSubmatch(tc.Stdout)
	if tc.Err != nil || m == nil {
		t.Fatalf("token create: %v %q %s", tc.Err, tc.Stdout, tc.Stderr)
	}
	dir := t.TempDir()
	if r := framework.Fleetgate(t, "register", m[1], "--token", m[2], "--discovery-token-ca-cert-hash", m[3], "--cluster-name", "member2", "--dir", dir); r.Err != nil {
		t.Fatalf("register member2 again: %v\n%s%s", r.Err, r.Stdout, r.Stderr)
	}
	t.Cleanup(func() { framework.Fleetgate(t, "unjoin", "member2", "--kubeconfig", framework.Env.GatewayKubeconfig) })
	fresh, err := bootstrap.LoadAgentCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ws, code, body := dialTunnel(t, fresh, nil); code != http.StatusSwitchingProtocols {
		t.Errorf("the new registration's certificate: %d %s, want the tunnel opened", code, body)
	} else {
		ws.Close()
	}
	if _, code, body := dialTunnel(t, m2, nil); code != http.StatusForbidden || !strings.Contains(body, "does not admit this agent certificate") {
		t.Errorf("the earlier registration's certificate after member2 registered again: %d %s, want 403", code, body)
	}
}

// renew posts a renewal for cluster with cert and returns the answer.
func renew(t *testing.T, cert tls.Certificate, cluster string) (int, string) {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(framework.Env.GatewayConfig.CAData)
	_, csr, err := bootstrap.NewAgentCSR(cluster)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(bootstrap.RegisterRequest{Cluster: cluster, CSR: string(csr)})
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: clientTLS(cert, roots)}}
	resp, err := c.Post(framework.Env.GatewayURL+bootstrap.RenewPath, "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}
