package tunnel

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"k8s.io/utils/clock"

	"github.com/fleetgate/fleetgate/certs"
)

// pki is a test CA issuing the gateway's serving certificate and agent certificates.
type pki struct {
	t  *testing.T
	ca *certs.CA
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	ca, err := certs.NewCA("tunnel-test-ca")
	if err != nil {
		t.Fatal(err)
	}
	return &pki{t: t, ca: ca}
}

func (p *pki) issue(r certs.Request) *tls.Certificate {
	p.t.Helper()
	certPEM, keyPEM, err := p.ca.Issue(r)
	if err != nil {
		p.t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		p.t.Fatal(err)
	}
	return &cert
}

// agentCert returns a well-formed agent certificate for cluster.
func (p *pki) agentCert(cluster string) *tls.Certificate {
	return p.issue(certs.Request{
		CommonName:   AgentCommonName(cluster),
		Organization: []string{AgentGroup},
		Usages:       []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
}

// gateway is a TLS server mounting a Server at Path, requesting but not requiring client
// certificates, as the gateway's listener does.
type gateway struct {
	*Server
	http    *httptest.Server
	url     string // wss://…/tunnel
	rootCAs *x509.CertPool

	mu      sync.Mutex
	refuse  map[string]error
	asked   []string
	serials []string // of the certificates that reached the handler
	trusted []*x509.CertPool
}

func newGateway(t *testing.T, p *pki, c clock.WithDelayedExecution) *gateway {
	t.Helper()
	g := &gateway{refuse: map[string]error{}, trusted: []*x509.CertPool{p.ca.Pool()}, rootCAs: p.ca.Pool()}
	srv, err := NewServer(ServerOptions{
		TrustedCAs: func() []*x509.CertPool {
			g.mu.Lock()
			defer g.mu.Unlock()
			return g.trusted
		},
		Allower: AllowerFunc(func(cluster string, _ *x509.Certificate) error {
			g.mu.Lock()
			defer g.mu.Unlock()
			g.asked = append(g.asked, cluster)
			return g.refuse[cluster]
		}),
		Clock: c,
	})
	if err != nil {
		t.Fatal(err)
	}
	g.Server = srv
	mux := http.NewServeMux()
	mux.Handle(Path, srv)
	g.http = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			g.mu.Lock()
			g.serials = append(g.serials, r.TLS.PeerCertificates[0].SerialNumber.String())
			g.mu.Unlock()
		}
		mux.ServeHTTP(w, r)
	}))
	serving := p.issue(certs.Request{
		CommonName: "gateway",
		IPs:        []net.IP{net.IPv4(127, 0, 0, 1)},
		Usages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	g.http.TLS = &tls.Config{Certificates: []tls.Certificate{*serving}, ClientAuth: tls.RequestClientCert}
	g.http.StartTLS()
	t.Cleanup(g.http.Close)
	g.url = "wss://" + g.http.Listener.Addr().String() + Path
	return g
}

func (g *gateway) setRefused(cluster string, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.refuse[cluster] = err
}

func (g *gateway) timesAsked(cluster string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, c := range g.asked {
		if c == cluster {
			n++
		}
	}
	return n
}

func (g *gateway) lastSerial() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.serials) == 0 {
		return ""
	}
	return g.serials[len(g.serials)-1]
}

// get sends a plain HTTPS GET to the tunnel path presenting cert (none when nil).
func (g *gateway) get(t *testing.T, cert *tls.Certificate, header http.Header) (int, string) {
	t.Helper()
	cfg := &tls.Config{RootCAs: g.rootCAs}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
	req, err := http.NewRequest(http.MethodGet, "https://"+g.http.Listener.Addr().String()+Path+"?cluster=member1", nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// client returns an HTTP client whose connections go through the tunnel of cluster.
//
// Its connections are kept alive, and targets are closed only after the agents have stopped (the
// cleanups run in reverse): no connection through a tunnel ends while its session lives. In
// remotedialer v0.6.1 the end of such a connection races on the connection's error field between
// the session's goroutine and the agent's copy loop (fixed upstream after v0.6.1, in 1c09457), which
// the race detector reports.
func (g *gateway) client(cluster string) *http.Client {
	return &http.Client{
		Transport: &http.Transport{DialContext: g.DialerFor(cluster)},
		Timeout:   10 * time.Second,
	}
}

// target is an HTTP server standing for a member's apiserver; it answers with its name.
func newTarget(t *testing.T, name string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, name)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// startAgent runs an agent until the test ends; cert is called at every connection.
func startAgent(t *testing.T, opts Options) {
	t.Helper()
	if opts.NewBackOff == nil {
		opts.NewBackOff = func() backoff.BackOff { return backoff.NewConstantBackOff(20 * time.Millisecond) }
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, opts) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// connectAgent starts a target standing for cluster's apiserver and an agent of cluster allowed to
// dial it, and waits for the agent's tunnel.
func (g *gateway) connectAgent(t *testing.T, p *pki, cluster string) *httptest.Server {
	t.Helper()
	target := newTarget(t, cluster)
	startAgent(t, agentOptions(g, p.agentCert(cluster), hostPort(target)))
	waitFor(t, cluster+" to connect", func() bool { return g.Connected(cluster) })
	return target
}

func agentOptions(g *gateway, cert *tls.Certificate, address string) Options {
	return Options{
		URL:         g.url,
		Certificate: func() (*tls.Certificate, error) { return cert, nil },
		RootCAs:     g.rootCAs,
		Address:     address,
	}
}

// waitFor waits until cond holds, failing the test after 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// getBody GETs url with c and returns the body, failing unless the answer is 200.
func getBody(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, body)
	}
	return string(body)
}

func hostPort(srv *httptest.Server) string {
	return strings.TrimPrefix(srv.URL, "http://")
}

// expectRefused checks that the agent refused conn: the agent ends its session, and the connection
// fails without carrying a byte. A connection the agent accepted waits for a request instead, until
// the read deadline.
func expectRefused(t *testing.T, conn net.Conn) {
	t.Helper()
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err == nil || strings.Contains(err.Error(), "deadline exceeded") {
		t.Errorf("dial %s through the tunnel: the agent did not refuse it: read = %v", conn.RemoteAddr(), err)
	}
}

// isNotConnected reports whether err says cluster has no tunnel.
func isNotConnected(err error, cluster string) bool {
	return errors.Is(err, ErrNotConnected) && strings.Contains(err.Error(), "cluster "+cluster+": no tunnel connected")
}
