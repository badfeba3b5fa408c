package foundation

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"

	"github.com/fleetgate/fleetgate/certs"
	"github.com/fleetgate/fleetgate/localenv"
	"github.com/fleetgate/fleetgate/test/e2e/framework"
)

// rawRequest sends method path to server (TLS verified with caPEM) with the client certificate (or
// none), the bearer token (or none) and the extra headers; it returns the code and the body.
func rawRequest(t *testing.T, server string, caPEM []byte, cert *tls.Certificate, token, method, path string, body []byte, hdr map[string][]string) (int, []byte) {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	cfg := &tls.Config{RootCAs: pool}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 30 * time.Second}
	req, err := http.NewRequest(method, server+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// claimAdmin are the front-proxy headers of an admin, which only the gateway's front-proxy
// certificate may send the host.
var claimAdmin = map[string][]string{"X-Remote-User": {"system:admin"}, "X-Remote-Group": {"system:masters"}}

// TestGatewayIsTheHostsFrontProxy: the gateway tells the host the caller (name, UID, groups, extra)
// by request-header authentication; a caller's own X-Remote-* headers are nobody's identity; and the
// host believes X-Remote-* only from the front-proxy CA's certificate for the gateway's name.
func TestGatewayIsTheHostsFrontProxy(t *testing.T) {
	admin := framework.Env.GatewayKubeconfig
	ns := "e2e-front-proxy"
	framework.Kubectl(t, admin, "create", "namespace", ns)
	t.Cleanup(func() { framework.KubectlResult(t, admin, "delete", "namespace", ns, "--wait=false") })
	framework.Kubectl(t, admin, "-n", ns, "create", "serviceaccount", "caller")
	saUID := framework.Kubectl(t, admin, "-n", ns, "get", "serviceaccount", "caller", "-o", "jsonpath={.metadata.uid}")
	token := strings.TrimSpace(framework.Kubectl(t, admin, "-n", ns, "create", "token", "caller"))
	kc := filepath.Join(t.TempDir(), "caller.kubeconfig")
	if err := (certs.Kubeconfig{Name: "caller", Server: framework.Env.GatewayURL, CAPEM: framework.Env.GatewayConfig.CAData, Token: token}).Write(kc); err != nil {
		t.Fatal(err)
	}
	name := "system:serviceaccount:" + ns + ":caller"

	// kubectl auth whoami through the gateway: the host saw the caller, with UID and extra.
	var who authenticationv1.SelfSubjectReview
	if err := json.Unmarshal([]byte(framework.Kubectl(t, kc, "auth", "whoami", "-o", "json")), &who); err != nil {
		t.Fatal(err)
	}
	u := who.Status.UserInfo
	if u.Username != name || u.UID != saUID || !slices.Contains(u.Groups, "system:serviceaccounts:"+ns) ||
		len(u.Extra["authentication.kubernetes.io/credential-id"]) != 1 {
		t.Errorf("auth whoami through the gateway: %+v, want %s (uid %s) in system:serviceaccounts:%s with a credential-id extra", u, name, saUID, ns)
	}

	// The same caller claiming to be an admin in X-Remote-* itself is still itself.
	gw, gwCA := framework.Env.GatewayURL, framework.Env.GatewayConfig.CAData
	code, body := rawRequest(t, gw, gwCA, nil, token, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
		[]byte(`{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`), claimAdmin)
	var self authenticationv1.SelfSubjectReview
	if err := json.Unmarshal(body, &self); code != 201 || err != nil || self.Status.UserInfo.Username != name ||
		slices.Contains(self.Status.UserInfo.Groups, "system:masters") {
		t.Errorf("selfsubjectreview with X-Remote-User system:admin: %d %s, want 201 for %s without system:masters", code, body, name)
	}
	if code, body := rawRequest(t, gw, gwCA, nil, token, "GET", "/api/v1/namespaces/kube-system/secrets", nil, claimAdmin); code != 403 ||
		!strings.Contains(string(body), name) {
		t.Errorf("list kube-system secrets with X-Remote-User system:admin: %d %s, want 403 naming %s", code, body, name)
	}

	// Straight to the host: the front-proxy CA's certificate for the gateway's name is believed (the
	// positive control), one of the same CA for another name is refused.
	host := framework.Env.Host
	for _, tc := range []struct {
		cn   string
		want int
	}{{localenv.GatewayFrontProxyUser, 200}, {"not-the-gateway", 401}} {
		crt, key, err := host.FrontProxyCA.Issue(certs.Request{CommonName: tc.cn, Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
		if err != nil {
			t.Fatal(err)
		}
		pair, err := tls.X509KeyPair(crt, key)
		if err != nil {
			t.Fatal(err)
		}
		if code, body := rawRequest(t, host.Server, host.CA.CertPEM(), &pair, "", "GET", "/api/v1/namespaces/kube-system/secrets", nil, claimAdmin); code != tc.want {
			t.Errorf("host with a front-proxy certificate for %s claiming system:admin: %d %s, want %d", tc.cn, code, body, tc.want)
		}
	}
}
