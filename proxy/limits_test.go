package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/fleetgate/fleetgate/certs"
)

// testBodyTimeout is the body read deadline of these tests.
const testBodyTimeout = 200 * time.Millisecond

// bodyHost answers every request with the length of its body, after delay.
type bodyHost struct{ delay time.Duration }

func (b bodyHost) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if b.delay > 0 {
		<-time.After(b.delay) // a slow server, not a wait of the test
	}
	_, _ = fmt.Fprintf(w, "%d", len(body))
}

// trickle sends a request whose body of n bytes comes one byte per interval, and returns how many
// body bytes were sent and the first response line, once the server answered or closed the
// connection.
func trickle(t *testing.T, gwURL, method, path string, n int, interval time.Duration) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(gwURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	return trickleOn(t, conn, method, path, n, interval)
}

func trickleOn(t *testing.T, conn net.Conn, method, path string, n int, interval time.Duration) (int, string) {
	t.Helper()
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer alice\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", method, path, n); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	sent := 0
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for range n {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if _, err := conn.Write([]byte("x")); err != nil {
				return
			}
			mu.Lock()
			sent++
			mu.Unlock()
		}
	}()
	status, _ := bufio.NewReader(conn).ReadString('\n') // the answer, or "" when the connection closed
	close(stop)
	<-done
	mu.Lock()
	defer mu.Unlock()
	return sent, strings.TrimSpace(status)
}

// TestSlowBodyIsCutOff (issue 10, item 3): a body that trickles in (40 bytes, one per 50ms: 2s)
// is cut off at the body read deadline, on a public endpoint and on an authenticated path to the
// host alike, long before it is complete.
func TestSlowBodyIsCutOff(t *testing.T) {
	gw := newTestGatewayWith(t, bodyHost{}, func(c *Config) {
		c.Limits.BodyReadTimeout = testBodyTimeout
		c.Public = map[string]http.Handler{"/public/echo": bodyHost{}}
	})
	for _, path := range []string{"/public/echo", "/api/v1/namespaces/default/configmaps"} {
		t.Run(path, func(t *testing.T) {
			start := time.Now()
			sent, status := trickle(t, gw.URL, http.MethodPost, path, 40, 50*time.Millisecond)
			elapsed := time.Since(start)
			if sent >= 40 || elapsed > 5*testBodyTimeout {
				t.Errorf("POST %s: the connection was held %s while %d of 40 body bytes came (answer %q); want it cut at about %s",
					path, elapsed, sent, status, testBodyTimeout)
			}
			if strings.Contains(status, " 200 ") {
				t.Errorf("POST %s: a cut-off body was answered %q", path, status)
			}
		})
	}
}

// TestServeCutsSlowBodiesOverTLS: the same through Serve (TLS, the gateway's server), on a public
// endpoint.
func TestServeCutsSlowBodiesOverTLS(t *testing.T) {
	ca, err := certs.NewCA("test-ca")
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.Issue(certs.Request{CommonName: "gateway", IPs: []net.IP{net.ParseIP("127.0.0.1")},
		Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	hostSrv := httptest.NewServer(bodyHost{})
	t.Cleanup(hostSrv.Close)
	h, err := NewHandler(Config{
		Host: &rest.Config{Host: hostSrv.URL}, Authenticator: testAuthn, Authorizer: testAuthz,
		Ready: func() error { return nil }, Metrics: NewMetrics(),
		Public: map[string]http.Handler{"/public/echo": bodyHost{}},
		Limits: Limits{BodyReadTimeout: testBodyTimeout},
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- Serve(ctx, ln, h, func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil }, ca.Pool())
	}()
	t.Cleanup(func() { cancel(); <-served })
	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: ca.Pool()})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	sent, status := trickleOn(t, conn, http.MethodPost, "/public/echo", 40, 50*time.Millisecond)
	if elapsed := time.Since(start); sent >= 40 || elapsed > 5*testBodyTimeout || strings.Contains(status, " 200 ") {
		t.Errorf("over TLS: the connection was held %s while %d of 40 body bytes came (answer %q); want it cut at about %s",
			elapsed, sent, status, testBodyTimeout)
	}
}

// TestBodyDeadlineSparesWhatMayTakeLong: the deadline bounds the body only. A body that came in
// time is answered however long the host then takes; a long-running request (exec) may trickle its
// body; a watch streams past the deadline.
func TestBodyDeadlineSparesWhatMayTakeLong(t *testing.T) {
	host := &streamingHost{}
	gw := newTestGatewayWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("watch") == "true" {
			host.ServeHTTP(w, r)
			return
		}
		bodyHost{delay: 3 * testBodyTimeout}.ServeHTTP(w, r)
	}), func(c *Config) { c.Limits.BodyReadTimeout = testBodyTimeout })

	t.Run("slow host after a complete body", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodPost, gw.URL+"/api/v1/namespaces/default/configmaps", strings.NewReader(`{"a":1}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer alice")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || string(body) != "7" {
			t.Errorf("POST answered after %s: %d %q, want 200 \"7\"", 3*testBodyTimeout, resp.StatusCode, body)
		}
	})
	t.Run("exec trickling its body", func(t *testing.T) {
		sent, status := trickle(t, gw.URL, http.MethodPost, "/api/v1/namespaces/default/pods/p/exec?command=cat", 10, 50*time.Millisecond)
		if sent != 10 || !strings.Contains(status, " 200 ") {
			t.Errorf("exec: %d of 10 body bytes sent, answer %q; want all, 200", sent, status)
		}
	})
	t.Run("watch", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodGet, gw.URL+"/api/v1/namespaces/default/configmaps?watch=true", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer alice")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil || string(body) != "first\nsecond\n" {
			t.Errorf("watch lasting %s: %q, %v; want both events", 3*testBodyTimeout, body, err)
		}
	})
}

// streamingHost writes an event, another after three body deadlines, then ends.
type streamingHost struct{}

func (streamingHost) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	_, _ = io.WriteString(w, "first\n")
	w.(http.Flusher).Flush()
	<-time.After(3 * testBodyTimeout) // a stream that lasts, not a wait of the test
	_, _ = io.WriteString(w, "second\n")
}

// blockingHost holds every request until released, and reports each arrival.
type blockingHost struct {
	arrived chan string
	release chan struct{}
}

func (b *blockingHost) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.arrived <- r.Method + " " + r.URL.RequestURI()
	w.(http.Flusher).Flush()
	<-b.release
}

// TestMaxInFlight: beyond the limits, requests get 429 with Retry-After; a watch is not counted;
// system:masters is exempt; the public endpoints have a limit of their own; an unauthenticated
// request is refused by authentication (401), not counted.
func TestMaxInFlight(t *testing.T) {
	host := &blockingHost{arrived: make(chan string, 16), release: make(chan struct{})}
	gw := newTestGatewayWith(t, host, func(c *Config) {
		c.Limits = Limits{MaxRequestsInFlight: 2, MaxMutatingRequestsInFlight: 1}
		c.Public = map[string]http.Handler{"/public/hold": host}
	})
	var wg sync.WaitGroup
	t.Cleanup(func() { close(host.release); wg.Wait() }) // before the servers close
	held := func(method, path, token string) {
		t.Helper()
		wg.Go(func() {
			req, _ := http.NewRequest(method, gw.URL+path, nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			if resp, err := http.DefaultClient.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
		select {
		case <-host.arrived:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s %s never reached the host", method, path)
		}
	}
	refused := func(method, path, token string, want int) {
		t.Helper()
		req, _ := http.NewRequest(method, gw.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v, want %d", method, path, err, want)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, body, want)
		}
		if want == http.StatusTooManyRequests {
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 {
				t.Errorf("%s %s: 429 with Retry-After %q, want seconds", method, path, resp.Header.Get("Retry-After"))
			}
		}
	}
	const cms = "/api/v1/namespaces/default/configmaps"
	held(http.MethodGet, cms+"?watch=true", "alice")
	held(http.MethodGet, cms+"/a", "alice") // the watch did not count: two reads get in
	held(http.MethodGet, cms+"/b", "alice")
	refused(http.MethodGet, cms+"/c", "alice", http.StatusTooManyRequests)
	held(http.MethodGet, cms+"/d", "admin") // system:masters
	held(http.MethodPost, cms, "alice")
	refused(http.MethodPut, cms+"/a", "alice", http.StatusTooManyRequests)
	refused(http.MethodGet, cms+"/e", "", http.StatusUnauthorized)
	held(http.MethodPost, "/public/hold", "")
	refused(http.MethodPost, "/public/hold", "", http.StatusTooManyRequests)
}

func TestLongRunning(t *testing.T) {
	for _, tc := range []struct {
		method, path string
		upgrade      bool
		want         bool
	}{
		{"GET", "/api/v1/namespaces/default/pods?watch=true", false, true},
		{"GET", "/api/v1/namespaces/default/pods/p/log?follow=true", false, true},
		{"POST", "/api/v1/namespaces/default/pods/p/exec?command=sh", false, true},
		{"POST", "/api/v1/namespaces/default/pods/p/attach", false, true},
		{"POST", "/api/v1/namespaces/default/pods/p/portforward", false, true},
		{"GET", "/api/v1/namespaces/default/services/s/proxy/x", false, true},
		{"GET", "/apis/cluster.karmada.io/v1alpha1/clusters/m1/proxy/api/v1/pods", false, true},
		{"GET", "/clusters/m1/api/v1/namespaces/default/pods?watch=1", false, true},
		{"POST", "/clusters/*/api/v1/namespaces/default/pods/p/exec", false, true},
		{"GET", "/fleetgate/v1/tunnel", true, true},
		{"GET", "/anything", true, true},
		{"GET", "/api/v1/namespaces/default/pods", false, false},
		{"POST", "/api/v1/namespaces/default/configmaps", false, false},
		{"GET", "/clusters/m1/api/v1/namespaces/default/pods", false, false},
		{"GET", "/clusters/m1", false, false},
		{"POST", "/webhooks/policies/validate", false, false},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, nil)
			if tc.upgrade {
				r.Header.Set("Connection", "Upgrade")
				r.Header.Set("Upgrade", "websocket")
			}
			info, err := NewRequestInfoResolver().NewRequestInfo(r)
			if err != nil {
				t.Fatal(err)
			}
			if got := longRunning(r, info); got != tc.want {
				t.Errorf("longRunning = %v, want %v (%+v)", got, tc.want, *info)
			}
		})
	}
}
