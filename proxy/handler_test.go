package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/client-go/rest"
)

// fakeHost records what reached the host and streams /stream in two flushed chunks.
type fakeHost struct {
	mu      sync.Mutex
	headers []http.Header
	release chan struct{}
}

func (f *fakeHost) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.headers = append(f.headers, r.Header.Clone())
	f.mu.Unlock()
	if r.URL.Path == "/stream" {
		_, _ = io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		<-f.release
		_, _ = io.WriteString(w, "second\n")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"kind":"ConfigMap"}`)
}

func (f *fakeHost) seen() []http.Header {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.headers
}

// testAuthn accepts "Bearer alice" and "Bearer admin".
var testAuthn = authenticator.RequestFunc(func(r *http.Request) (*authenticator.Response, bool, error) {
	switch r.Header.Get("Authorization") {
	case "Bearer alice":
		return &authenticator.Response{User: &user.DefaultInfo{Name: "alice", UID: "u-1", Groups: []string{"dev", "system:authenticated"},
			Extra: map[string][]string{"scopes.example.com/a b": {"x"}}}}, true, nil
	case "Bearer admin":
		return &authenticator.Response{User: &user.DefaultInfo{Name: "admin", Groups: []string{"system:masters"}}}, true, nil
	}
	return nil, false, nil
})

// testAuthz lets only admin impersonate and read /debug/pprof.
var testAuthz = authorizer.AuthorizerFunc(func(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	if a.GetVerb() == "impersonate" && a.GetUser().GetName() == "admin" {
		return authorizer.DecisionAllow, "", nil
	}
	if !a.IsResourceRequest() && a.GetVerb() == "get" && strings.HasPrefix(a.GetPath(), "/debug/pprof") && a.GetUser().GetName() == "admin" {
		return authorizer.DecisionAllow, "", nil
	}
	return authorizer.DecisionDeny, "only admin impersonates", nil
})

func newTestGateway(t *testing.T, ready func() error) (*httptest.Server, *fakeHost) {
	t.Helper()
	host := &fakeHost{release: make(chan struct{})}
	gw := newTestGatewayWith(t, host, func(c *Config) { c.Ready = ready })
	t.Cleanup(func() { close(host.release) }) // before the servers close (cleanups run last first)
	return gw, host
}

// newTestGatewayWith serves the front door, with testAuthn and testAuthz unless modify changes
// them, in front of host.
func newTestGatewayWith(t *testing.T, host http.Handler, modify func(*Config)) *httptest.Server {
	t.Helper()
	hostSrv := httptest.NewTLSServer(host)
	t.Cleanup(hostSrv.Close)
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hostSrv.Certificate().Raw})
	c := Config{
		Host:          &rest.Config{Host: hostSrv.URL, TLSClientConfig: rest.TLSClientConfig{CAData: caPEM}},
		Authenticator: testAuthn,
		Authorizer:    testAuthz,
		Ready:         func() error { return nil },
		Metrics:       NewMetrics(),
	}
	modify(&c)
	h, err := NewHandler(c)
	if err != nil {
		t.Fatal(err)
	}
	gw := httptest.NewServer(h)
	t.Cleanup(gw.Close)
	return gw
}

func do(t *testing.T, method, url string, hdr map[string][]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func TestAuthenticationAndImpersonation(t *testing.T) {
	gw, host := newTestGateway(t, func() error { return nil })
	const cm = "/api/v1/namespaces/default/configmaps/x"
	tests := []struct {
		name       string
		hdr        map[string][]string
		wantCode   int
		wantReason metav1.StatusReason
		// what the host must see, if reached
		wantUser   string
		wantGroups []string
	}{
		{name: "no credentials", wantCode: 401, wantReason: metav1.StatusReasonUnauthorized},
		{name: "unknown token", hdr: map[string][]string{"Authorization": {"Bearer mallory"}}, wantCode: 401, wantReason: metav1.StatusReasonUnauthorized},
		{name: "remote-user header alone is no identity", hdr: map[string][]string{"X-Remote-User": {"admin"}}, wantCode: 401, wantReason: metav1.StatusReasonUnauthorized},
		{name: "token user", hdr: map[string][]string{
			"Authorization": {"Bearer alice"}, "X-Remote-User": {"admin"}, "X-Remote-Group": {"system:masters"},
		}, wantCode: 200, wantUser: "alice", wantGroups: []string{"dev", "system:authenticated"}},
		{name: "non-admin impersonating is forbidden", hdr: map[string][]string{
			"Authorization": {"Bearer alice"}, "Impersonate-User": {"admin"},
		}, wantCode: 403, wantReason: metav1.StatusReasonForbidden},
		{name: "non-admin impersonating a group is forbidden", hdr: map[string][]string{
			"Authorization": {"Bearer alice"}, "Impersonate-User": {"alice"}, "Impersonate-Group": {"system:masters"},
		}, wantCode: 403, wantReason: metav1.StatusReasonForbidden},
		{name: "admin impersonates", hdr: map[string][]string{
			"Authorization": {"Bearer admin"}, "Impersonate-User": {"bob"}, "Impersonate-Group": {"qa"},
		}, wantCode: 200, wantUser: "bob", wantGroups: []string{"qa", "system:authenticated"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(host.seen())
			resp, body := do(t, "GET", gw.URL+cm, tc.hdr)
			if resp.StatusCode != tc.wantCode {
				t.Fatalf("code %d, want %d: %s", resp.StatusCode, tc.wantCode, body)
			}
			seen := host.seen()
			if tc.wantCode != 200 {
				var s metav1.Status
				if err := json.Unmarshal([]byte(body), &s); err != nil || s.Kind != "Status" || s.Reason != tc.wantReason {
					t.Fatalf("want a Status with reason %q, got %s (err %v)", tc.wantReason, body, err)
				}
				if len(seen) != before {
					t.Fatalf("a refused request reached the host")
				}
				return
			}
			got := seen[len(seen)-1]
			if v := got.Get("Authorization"); v != "" {
				t.Errorf("host saw the client's Authorization header %q", v)
			}
			for k := range got {
				if strings.HasPrefix(strings.ToLower(k), "x-remote-") {
					t.Errorf("host saw client header %s", k)
				}
			}
			if u := got.Get("Impersonate-User"); u != tc.wantUser {
				t.Errorf("Impersonate-User %q, want %q", u, tc.wantUser)
			}
			if g := got.Values("Impersonate-Group"); strings.Join(g, ",") != strings.Join(tc.wantGroups, ",") {
				t.Errorf("Impersonate-Group %v, want %v", g, tc.wantGroups)
			}
		})
	}
}

func TestUserExtraAndUIDReachHost(t *testing.T) {
	gw, host := newTestGateway(t, func() error { return nil })
	// A client cannot smuggle extras: Impersonate-Extra without Impersonate-User is a bad request, as
	// on kube-apiserver, and never reaches the host.
	if resp, body := do(t, "GET", gw.URL+"/api/v1/namespaces", map[string][]string{
		"Authorization": {"Bearer alice"}, "Impersonate-Extra-Evil": {"1"},
	}); resp.StatusCode != 400 {
		t.Fatalf("smuggled extra: code %d, want 400: %s", resp.StatusCode, body)
	}
	if resp, body := do(t, "GET", gw.URL+"/api/v1/namespaces", map[string][]string{"Authorization": {"Bearer alice"}}); resp.StatusCode != 200 {
		t.Fatalf("code %d: %s", resp.StatusCode, body)
	}
	seen := host.seen()
	if len(seen) != 1 {
		t.Fatalf("host saw %d requests, want 1", len(seen))
	}
	got := seen[0]
	if got.Get("Impersonate-Uid") != "u-1" {
		t.Errorf("Impersonate-Uid %q, want u-1", got.Get("Impersonate-Uid"))
	}
	// The extra key is escaped as client-go escapes it.
	if got.Get("Impersonate-Extra-Scopes.example.com%2fa%20b") != "x" {
		t.Errorf("user extra not forwarded: %v", got)
	}
}

func TestHealthIsAnonymousAndReadyReflectsChecks(t *testing.T) {
	var notReady error
	var mu sync.Mutex
	gw, host := newTestGateway(t, func() error { mu.Lock(); defer mu.Unlock(); return notReady })
	for _, p := range []string{"/healthz", "/livez", "/readyz"} {
		if resp, body := do(t, "GET", gw.URL+p, nil); resp.StatusCode != 200 || body != "ok" {
			t.Errorf("%s: %d %q", p, resp.StatusCode, body)
		}
	}
	mu.Lock()
	notReady = errors.New("host unreachable")
	mu.Unlock()
	// Anonymous callers learn ready or not, never why (the host's errors are not theirs to read);
	// ?verbose is for authenticated callers, and says why.
	for _, p := range []string{"/readyz", "/readyz?verbose"} {
		if resp, body := do(t, "GET", gw.URL+p, nil); resp.StatusCode == 200 || strings.Contains(body, "host unreachable") {
			t.Errorf("anonymous %s while not ready: %d %q, want a failure that does not say why", p, resp.StatusCode, body)
		}
	}
	if resp, body := do(t, "GET", gw.URL+"/readyz?verbose", map[string][]string{"Authorization": {"Bearer alice"}}); resp.StatusCode != 503 || !strings.Contains(body, "host unreachable") {
		t.Errorf("authenticated /readyz?verbose while not ready: %d %q, want 503 with the reason", resp.StatusCode, body)
	}
	if len(host.seen()) != 0 {
		t.Errorf("health checks reached the host")
	}
}

func TestMetricsNeedAuthenticationAndCountRequests(t *testing.T) {
	gw, _ := newTestGateway(t, func() error { return nil })
	if resp, _ := do(t, "GET", gw.URL+"/metrics", nil); resp.StatusCode != 401 {
		t.Fatalf("anonymous /metrics: %d, want 401", resp.StatusCode)
	}
	alice := map[string][]string{"Authorization": {"Bearer alice"}}
	do(t, "GET", gw.URL+"/api/v1/namespaces/default/configmaps/x", alice)
	resp, body := do(t, "GET", gw.URL+"/metrics", alice)
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	for _, want := range []string{
		`fleetgate_requests_total{code="200",group="",resource="configmaps",verb="get"} 1`,
		`fleetgate_requests_total{code="401",group="",resource="",verb="unauthenticated"} 1`,
		`fleetgate_request_duration_seconds_count{group="",resource="configmaps",verb="get"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestStreamingResponsesAreFlushed(t *testing.T) {
	gw, _ := newTestGateway(t, func() error { return nil })
	req, _ := http.NewRequest("GET", gw.URL+"/stream", nil)
	req.Header.Set("Authorization", "Bearer alice")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(resp.Body).ReadString('\n')
		line <- l
	}()
	select {
	case l := <-line:
		if l != "first\n" {
			t.Fatalf("first chunk %q", l)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("first chunk did not arrive while the host held the stream open")
	}
}

// With --profiling, /debug/pprof/ is for callers the host allows to get that non-resource URL, as
// kube-apiserver has it; any other authenticated caller gets 403.
func TestProfilingNeedsTheNonResourceURL(t *testing.T) {
	host := &fakeHost{release: make(chan struct{})}
	hostSrv := httptest.NewTLSServer(host)
	t.Cleanup(hostSrv.Close)
	t.Cleanup(func() { close(host.release) })
	h, err := NewHandler(Config{
		Host:          &rest.Config{Host: hostSrv.URL, TLSClientConfig: rest.TLSClientConfig{CAData: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hostSrv.Certificate().Raw})}},
		Authenticator: testAuthn,
		Authorizer:    testAuthz,
		Ready:         func() error { return nil },
		Metrics:       NewMetrics(),
		Profiling:     true,
	})
	if err != nil {
		t.Fatal(err)
	}
	gw := httptest.NewServer(h)
	t.Cleanup(gw.Close)
	for _, tc := range []struct {
		who  string
		want int
	}{{"", http.StatusUnauthorized}, {"alice", http.StatusForbidden}, {"admin", http.StatusOK}} {
		hdr := map[string][]string{}
		if tc.who != "" {
			hdr["Authorization"] = []string{"Bearer " + tc.who}
		}
		for _, p := range []string{"/debug/pprof/", "/debug/pprof/goroutine?debug=1"} {
			if resp, body := do(t, "GET", gw.URL+p, hdr); resp.StatusCode != tc.want {
				t.Errorf("%q GET %s: %d %.200q, want %d", tc.who, p, resp.StatusCode, body, tc.want)
			}
		}
	}
}
