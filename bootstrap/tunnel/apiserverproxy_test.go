package tunnel

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
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

// A SPDY upgrade (kubectl exec/attach/port-forward without WebSockets) reaches an apiserver that
// also speaks HTTP/2: the agent's proxy must use HTTP/1.1, where an upgrade can happen (Go's HTTP/2
// transport would only fall back for WebSocket upgrades).
func TestAPIServerProxyUpgradesOverHTTP1(t *testing.T) {
	apiserver := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "SPDY/3.1" {
			http.Error(w, "want an upgrade", http.StatusBadRequest)
			return
		}
		hj, ok := w.(http.Hijacker)
		if !ok {
			http.Error(w, "cannot upgrade over "+r.Proto, http.StatusInternalServerError)
			return
		}
		conn, rw, err := hj.Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n")
		rw.Flush()
		line, _ := rw.ReadString('\n')
		rw.WriteString("echo " + line)
		rw.Flush()
	}))
	apiserver.EnableHTTP2 = true
	apiserver.StartTLS()
	t.Cleanup(apiserver.Close)
	proxy, err := NewAPIServerProxy(&rest.Config{Host: apiserver.URL, BearerToken: "agent-token", TLSClientConfig: rest.TLSClientConfig{Insecure: true}})
	if err != nil {
		t.Fatal(err)
	}
	local := httptest.NewServer(proxy)
	t.Cleanup(local.Close)

	conn, err := net.Dial("tcp", local.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/v1/namespaces/a/pods/b/exec HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("upgrade through the agent's proxy: %s %s, want 101", resp.Status, body)
	}
	fmt.Fprintf(conn, "ping\n")
	if line, err := br.ReadString('\n'); err != nil || line != "echo ping\n" {
		t.Errorf("after the upgrade read %q, %v; want the apiserver's echo", line, err)
	}
}

// With its member's apiserver down, the agent answers with AgentErrorHeader, and the gateway's
// transport (AgentErrors) makes that a transport error naming the cluster, not an API answer.
func TestAgentErrorsWhenTheMemberIsDown(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	addr := down.URL
	down.Close()
	proxy, err := NewAPIServerProxy(&rest.Config{Host: addr, BearerToken: "agent-token"})
	if err != nil {
		t.Fatal(err)
	}
	local := httptest.NewServer(proxy)
	t.Cleanup(local.Close)

	c := &http.Client{Transport: AgentErrors("member2", http.DefaultTransport)}
	resp, err := c.Get(local.URL + "/api/v1/namespaces")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("GET with the member down: %s, want an error", resp.Status)
	}
	var ae *AgentError
	if !errors.As(err, &ae) || ae.Cluster != "member2" || !strings.Contains(ae.Reason, "unreachable") || !errors.Is(err, ErrAgentError) {
		t.Fatalf("GET with the member down: %v (%T), want an *AgentError for member2", err, errors.Unwrap(err))
	}

	// An answer of the apiserver itself, even an error, passes unchanged.
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusForbidden) }))
	t.Cleanup(up.Close)
	proxy, err = NewAPIServerProxy(&rest.Config{Host: up.URL, BearerToken: "agent-token"})
	if err != nil {
		t.Fatal(err)
	}
	local2 := httptest.NewServer(proxy)
	t.Cleanup(local2.Close)
	resp, err = c.Get(local2.URL + "/api/v1/namespaces")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET = %s, want the apiserver's 403", resp.Status)
	}
}
