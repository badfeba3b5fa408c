package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/request/headerrequest"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/client-go/rest"

	"github.com/fleetgate/fleetgate/certs"
)

const frontProxyName = "test-front-proxy"

// requestHeaderHost is a host that authenticates as kube-apiserver does with
// --requestheader-client-ca-file (the front-proxy CA), --requestheader-allowed-names=frontProxyName
// and the X-Remote-* headers: k8s.io/apiserver's own request-header authenticator. It answers with
// the user it found (JSON) and records the headers it saw.
type requestHeaderHost struct {
	authn   authenticator.Request
	mu      sync.Mutex
	headers []http.Header
}

func newRequestHeaderHost(ca *certs.CA) *requestHeaderHost {
	verify := func() (x509.VerifyOptions, bool) {
		return x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, true
	}
	return &requestHeaderHost{authn: headerrequest.NewDynamicVerifyOptionsSecure(verify,
		headerrequest.StaticStringSlice{frontProxyName},
		headerrequest.StaticStringSlice{"X-Remote-User"}, headerrequest.StaticStringSlice{"X-Remote-Uid"},
		headerrequest.StaticStringSlice{"X-Remote-Group"}, headerrequest.StaticStringSlice{"X-Remote-Extra-"})}
}

func (h *requestHeaderHost) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.headers = append(h.headers, r.Header.Clone())
	h.mu.Unlock()
	resp, ok, err := h.authn.AuthenticateRequest(r)
	if err != nil || !ok {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	u := resp.User
	_ = json.NewEncoder(w).Encode(user.DefaultInfo{Name: u.GetName(), UID: u.GetUID(), Groups: u.GetGroups(), Extra: u.GetExtra()})
}

func (h *requestHeaderHost) last() http.Header {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.headers[len(h.headers)-1]
}

// newFrontProxyHost serves a requestHeaderHost over TLS and returns it with a rest.Config holding a
// client certificate of the front-proxy CA for cn.
func newFrontProxyHost(t *testing.T, cn string) (*requestHeaderHost, *rest.Config) {
	t.Helper()
	ca, err := certs.NewCA("front-proxy-ca")
	if err != nil {
		t.Fatal(err)
	}
	host := newRequestHeaderHost(ca)
	srv := httptest.NewUnstartedServer(host)
	srv.TLS = &tls.Config{ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: ca.Pool()}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	crt, key, err := ca.Issue(certs.Request{CommonName: cn, Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil {
		t.Fatal(err)
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	return host, &rest.Config{Host: srv.URL, TLSClientConfig: rest.TLSClientConfig{CAData: caPEM, CertData: crt, KeyData: key}}
}

// TestFrontProxyTellsHostTheCaller: with HostIdentity FrontProxy the host's request-header
// authenticator finds the caller (name, UID, groups, extra) and never sees Impersonate-* or the
// client's own X-Remote-*.
func TestFrontProxyTellsHostTheCaller(t *testing.T) {
	host, cfg := newFrontProxyHost(t, frontProxyName)
	gw := newTestGatewayWith(t, host, func(c *Config) { c.Host, c.HostIdentity = cfg, FrontProxy })
	tests := []struct {
		name string
		hdr  map[string][]string
		want user.DefaultInfo
	}{
		{name: "token user, claiming admin in X-Remote-* itself", hdr: map[string][]string{
			"Authorization": {"Bearer alice"}, "X-Remote-User": {"admin"}, "X-Remote-Group": {"system:masters"},
			"X-Remote-Uid": {"u-0"}, "X-Remote-Extra-Evil": {"1"},
		}, want: user.DefaultInfo{Name: "alice", UID: "u-1", Groups: []string{"dev", "system:authenticated"},
			Extra: map[string][]string{"scopes.example.com/a b": {"x"}}}},
		{name: "admin impersonates", hdr: map[string][]string{
			"Authorization": {"Bearer admin"}, "Impersonate-User": {"bob"}, "Impersonate-Group": {"qa"},
		}, want: user.DefaultInfo{Name: "bob", Groups: []string{"qa", "system:authenticated"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := do(t, "GET", gw.URL+"/api/v1/namespaces", tc.hdr)
			if resp.StatusCode != 200 {
				t.Fatalf("code %d: %s", resp.StatusCode, body)
			}
			var got user.DefaultInfo
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatalf("host answer %q: %v", body, err)
			}
			if got.Name != tc.want.Name || got.UID != tc.want.UID || strings.Join(got.Groups, ",") != strings.Join(tc.want.Groups, ",") ||
				len(got.Extra) != len(tc.want.Extra) || (len(tc.want.Extra) > 0 && got.Extra["scopes.example.com/a b"][0] != "x") {
				t.Errorf("host authenticated %+v, want %+v", got, tc.want)
			}
			for k := range host.last() {
				if lk := strings.ToLower(k); strings.HasPrefix(lk, "impersonate-") || lk == "authorization" {
					t.Errorf("host saw %s", k)
				}
			}
		})
	}
}

// TestFrontProxyCaller: the write pipeline's Caller speaks to the host the same way.
func TestFrontProxyCaller(t *testing.T) {
	host, cfg := newFrontProxyHost(t, frontProxyName)
	c, err := NewCaller(cfg, FrontProxy)
	if err != nil {
		t.Fatal(err)
	}
	ctx := request.WithUser(t.Context(), &user.DefaultInfo{Name: "carol", Groups: []string{"ops"}})
	req, _ := http.NewRequestWithContext(ctx, "GET", "/api/v1/namespaces", nil)
	req.Header.Set("X-Remote-User", "system:admin")
	req.Header.Set("Impersonate-User", "system:admin")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got user.DefaultInfo
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || got.Name != "carol" || strings.Join(got.Groups, ",") != "ops" {
		t.Errorf("host authenticated %+v (%v), want carol in ops", got, err)
	}
	if h := host.last(); h.Get("Impersonate-User") != "" || len(h.Values("X-Remote-User")) != 1 {
		t.Errorf("host saw Impersonate-User %q, X-Remote-User %v", h.Get("Impersonate-User"), h.Values("X-Remote-User"))
	}
}

// TestFrontProxyCertificateWithAnotherNameIsNobody: the host trusts the headers only from the
// allowed common name; a certificate of the same CA with another name gets nobody's identity.
func TestFrontProxyCertificateWithAnotherNameIsNobody(t *testing.T) {
	host, cfg := newFrontProxyHost(t, "someone-else")
	gw := newTestGatewayWith(t, host, func(c *Config) { c.Host, c.HostIdentity = cfg, FrontProxy })
	if resp, body := do(t, "GET", gw.URL+"/api/v1/namespaces", map[string][]string{"Authorization": {"Bearer alice"}}); resp.StatusCode != 401 {
		t.Errorf("front proxy with CN someone-else: %d %s, want the host's 401", resp.StatusCode, body)
	}
}
