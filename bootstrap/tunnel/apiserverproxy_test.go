package tunnel

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"k8s.io/client-go/rest"
)

// The gateway reaches the member's apiserver through the tunnel and the agent's proxy: the
// apiserver sees the agent's credentials, never the gateway's, and the impersonation headers.
func TestAPIServerProxyThroughTunnel(t *testing.T) {
	type seen struct{ auth, user, group, path string }
	got := make(chan seen, 1)
	apiserver := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Header.Get("Authorization"), r.Header.Get("Impersonate-User"), r.Header.Get("Impersonate-Group"), r.URL.Path}
		w.Write([]byte("ok"))
	}))
	t.Cleanup(apiserver.Close)

	proxy, err := NewAPIServerProxy(&rest.Config{
		Host:            apiserver.URL,
		BearerToken:     "agent-token",
		TLSClientConfig: rest.TLSClientConfig{Insecure: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	local := httptest.NewServer(proxy)
	t.Cleanup(local.Close)

	p := newPKI(t)
	g := newGateway(t, p, nil)
	startAgent(t, agentOptions(g, p.agentCert("member1"), hostPort(local)))
	waitFor(t, "member1 to connect", func() bool { return g.Connected("member1") })

	req, err := http.NewRequest(http.MethodGet, local.URL+"/api/v1/namespaces", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer gateway-token")
	req.Header.Set("Impersonate-User", "alice")
	req.Header.Set("Impersonate-Group", "dev")
	resp, err := g.client("member1").Do(req)
	if err != nil {
		t.Fatal(err)
	}
	// Read to the end, so that the connection is kept (see gateway.client).
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || string(body) != "ok" {
		t.Fatalf("GET = %s %q %v, want 200 ok", resp.Status, body, err)
	}
	want := seen{auth: "Bearer agent-token", user: "alice", group: "dev", path: "/api/v1/namespaces"}
	if s := <-got; s != want {
		t.Errorf("apiserver saw %+v, want %+v", s, want)
	}
}

func TestNewAPIServerProxyRefusesBadConfig(t *testing.T) {
	if _, err := NewAPIServerProxy(&rest.Config{Host: "https://a", BearerToken: "x", TLSClientConfig: rest.TLSClientConfig{CAData: []byte("not PEM")}}); err == nil {
		t.Error("NewAPIServerProxy with bad CA data succeeded")
	}
}
