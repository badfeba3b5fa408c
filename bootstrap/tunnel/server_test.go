package tunnel

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rancher/remotedialer"
	"k8s.io/utils/clock"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/fleetgate/fleetgate/certs"
)

func TestDialThroughTunnel(t *testing.T) {
	p := newPKI(t)
	g := newGateway(t, p, nil)
	target := g.connectAgent(t, p, "member1")

	if got := getBody(t, g.client("member1"), target.URL+"/version"); got != "member1" {
		t.Errorf("body = %q, want the target's", got)
	}
	if n := g.timesAsked("member1"); n != 1 {
		t.Errorf("Allowed asked %d times for member1, want 1", n)
	}
}

func TestDialWithoutTunnel(t *testing.T) {
	g := newGateway(t, newPKI(t), nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := g.DialerFor("member2")(ctx, "tcp", "127.0.0.1:443")
	if !isNotConnected(err, "member2") {
		t.Fatalf("dial member2 = %v, want %q", err, "cluster member2: no tunnel connected")
	}
	if g.Connected("member2") {
		t.Error("Connected(member2) = true")
	}
}

// The cluster comes from the certificate only: member2's agent asking for member1 in the URL still
// registers as member2, and dials for member1 never reach it. (Headers: see TestRefused.)
func TestClusterComesFromCertificate(t *testing.T) {
	p := newPKI(t)
	g := newGateway(t, p, nil)
	target2 := newTarget(t, "member2")

	opts2 := agentOptions(g, p.agentCert("member2"), hostPort(target2))
	opts2.URL += "?cluster=member1"
	startAgent(t, opts2)
	waitFor(t, "member2 to connect", func() bool { return g.Connected("member2") })
	if g.Connected("member1") {
		t.Fatal("member2's certificate opened member1's tunnel")
	}
	if _, err := g.Dial(context.Background(), "member1", "tcp", hostPort(target2)); !isNotConnected(err, "member1") {
		t.Fatalf("dial member1 = %v, want no tunnel", err)
	}
	if n := g.timesAsked("member1"); n != 0 {
		t.Errorf("Allowed asked %d times for member1, want 0", n)
	}

	target1 := g.connectAgent(t, p, "member1")
	for cluster, target := range map[string]string{"member1": target1.URL, "member2": target2.URL} {
		if got := getBody(t, g.client(cluster), target); got != cluster {
			t.Errorf("through %s's tunnel reached %q", cluster, got)
		}
	}
	// member1's agent refuses member2's address, so member1's tunnel cannot reach member2's target.
	if conn, err := g.Dial(context.Background(), "member1", "tcp", hostPort(target2)); err == nil {
		expectRefused(t, conn)
	}
}

func TestRefused(t *testing.T) {
	p := newPKI(t)
	other := newPKI(t)
	g := newGateway(t, p, nil)
	g.setRefused("member3", errors.New("cluster member3 is not in Pull mode"))
	clientAuth := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	agents := []string{AgentGroup}

	for _, tc := range []struct {
		name     string
		cert     *tls.Certificate
		header   http.Header
		wantCode int
		wantBody string
	}{
		{name: "no certificate", wantCode: http.StatusUnauthorized, wantBody: "client certificate is required"},
		{name: "another CA", cert: other.agentCert("member1"), wantCode: http.StatusUnauthorized, wantBody: "unknown authority"},
		{name: "no agents organization", cert: p.issue(certs.Request{
			CommonName: AgentCommonName("member1"), Organization: []string{"system:masters"}, Usages: clientAuth,
		}), wantCode: http.StatusUnauthorized, wantBody: "organization system:fleetgate:agents is missing"},
		{name: "not an agent name", cert: p.issue(certs.Request{
			CommonName: "member1", Organization: agents, Usages: clientAuth,
		}), wantCode: http.StatusUnauthorized, wantBody: "common name does not start with"},
		{name: "empty cluster name", cert: p.issue(certs.Request{
			CommonName: AgentUserPrefix, Organization: agents, Usages: clientAuth,
		}), wantCode: http.StatusUnauthorized, wantBody: "cluster name"},
		{name: "invalid cluster name", cert: p.issue(certs.Request{
			CommonName: AgentCommonName("Member_1"), Organization: agents, Usages: clientAuth,
		}), wantCode: http.StatusUnauthorized, wantBody: "cluster name"},
		{name: "server certificate", cert: p.issue(certs.Request{
			CommonName: AgentCommonName("member1"), Organization: agents, Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}), wantCode: http.StatusUnauthorized, wantBody: "key usage"},
		{name: "peer headers without a certificate", header: http.Header{
			remotedialer.ID: {"member1"}, remotedialer.Token: {"x"},
		}, wantCode: http.StatusUnauthorized},
		{name: "not allowed", cert: p.agentCert("member3"), wantCode: http.StatusForbidden, wantBody: "not in Pull mode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := g.get(t, tc.cert, tc.header)
			if code != tc.wantCode || !strings.Contains(body, tc.wantBody) {
				t.Errorf("GET = %d %q, want %d containing %q", code, body, tc.wantCode, tc.wantBody)
			}
		})
	}
	if n := g.timesAsked("member1"); n != 0 {
		t.Errorf("Allowed asked %d times for member1, want 0: no certificate for it was valid", n)
	}
	if n := g.timesAsked("member3"); n != 1 {
		t.Errorf("Allowed asked %d times for member3, want 1", n)
	}
}

// The trusted pools are read at every connection: a CA added later (cert-manager's, or the next
// one in a rotation) is accepted without a restart.
func TestTrustedCAsAreReadAtEveryConnection(t *testing.T) {
	p, next := newPKI(t), newPKI(t)
	g := newGateway(t, p, nil)
	cert := next.agentCert("member1")
	if code, _ := g.get(t, cert, nil); code != http.StatusUnauthorized {
		t.Fatalf("GET with an untrusted CA = %d, want 401", code)
	}
	g.mu.Lock()
	g.trusted = []*x509.CertPool{p.ca.Pool(), next.ca.Pool()}
	g.mu.Unlock()
	target := newTarget(t, "member1")
	startAgent(t, agentOptions(g, cert, hostPort(target)))
	waitFor(t, "member1 to connect", func() bool { return g.Connected("member1") })
}

func TestClose(t *testing.T) {
	p := newPKI(t)
	g := newGateway(t, p, nil)
	target := g.connectAgent(t, p, "member1")

	// Unjoin: refuse the cluster, then drop its tunnel.
	g.setRefused("member1", errors.New("cluster member1 is being deleted"))
	asked := g.timesAsked("member1")
	g.Close("member1")
	if g.Connected("member1") {
		t.Fatal("Connected(member1) after Close")
	}
	if _, err := g.Dial(context.Background(), "member1", "tcp", hostPort(target)); !isNotConnected(err, "member1") {
		t.Fatalf("dial after Close = %v, want no tunnel", err)
	}
	// The agent keeps trying and is refused each time.
	waitFor(t, "the agent to be refused twice", func() bool { return g.timesAsked("member1") >= asked+2 })
	if g.Connected("member1") {
		t.Fatal("a refused cluster connected")
	}
	g.Close("member1") // nothing to drop
}

func TestAgentReconnects(t *testing.T) {
	p := newPKI(t)
	g := newGateway(t, p, nil)
	target := g.connectAgent(t, p, "member1")
	for i := range 3 {
		waitFor(t, "member1 to connect", func() bool { return g.Connected("member1") })
		if got := getBody(t, g.client("member1"), target.URL); got != "member1" {
			t.Fatalf("connection %d: body = %q", i, got)
		}
		g.Close("member1")
		if g.Connected("member1") {
			t.Fatalf("connection %d: Connected(member1) after Close", i)
		}
	}
	waitFor(t, "member1 to connect again", func() bool { return g.Connected("member1") })
}

// A renewed certificate is used from the next connection on.
func TestAgentPresentsCurrentCertificate(t *testing.T) {
	p := newPKI(t)
	g := newGateway(t, p, nil)
	target := newTarget(t, "member1")
	first, renewed := p.agentCert("member1"), p.agentCert("member1")
	current := make(chan *tls.Certificate, 1)
	current <- first
	opts := agentOptions(g, nil, hostPort(target))
	opts.Certificate = func() (*tls.Certificate, error) {
		c := <-current
		current <- c
		return c, nil
	}
	startAgent(t, opts)
	waitFor(t, "member1 to connect", func() bool { return g.Connected("member1") })
	if got, want := g.lastSerial(), first.Leaf.SerialNumber.String(); got != want {
		t.Fatalf("serial = %s, want the first certificate's %s", got, want)
	}

	<-current
	current <- renewed
	g.Close("member1")
	want := renewed.Leaf.SerialNumber.String()
	waitFor(t, "member1 to connect with the renewed certificate", func() bool {
		return g.Connected("member1") && g.lastSerial() == want
	})
}

// A session ends when the certificate that opened it expires, and the expired certificate cannot
// open another.
func TestSessionEndsWhenCertificateExpires(t *testing.T) {
	p := newPKI(t)
	fake := testingclock.NewFakeClock(time.Now())
	g := newGateway(t, p, fake)
	target := newTarget(t, "member1")
	cert := p.issue(certs.Request{
		CommonName: AgentCommonName("member1"), Organization: []string{AgentGroup},
		Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, Lifetime: time.Hour,
	})
	startAgent(t, agentOptions(g, cert, hostPort(target)))
	waitFor(t, "member1 to connect", func() bool { return g.Connected("member1") })

	fake.Step(time.Hour + time.Second)
	waitFor(t, "the session to end", func() bool { return !g.Connected("member1") })
	if code, body := g.get(t, cert, nil); code != http.StatusUnauthorized || !strings.Contains(body, "expired") {
		t.Errorf("GET with the expired certificate = %d %q, want 401 expired", code, body)
	}
}

func TestNewServerValidates(t *testing.T) {
	pools := func() []*x509.CertPool { return nil }
	allow := AllowerFunc(func(string, *x509.Certificate) error { return nil })
	for _, tc := range []struct {
		name string
		opts ServerOptions
	}{
		{"no TrustedCAs", ServerOptions{Allower: allow}},
		{"no Allower", ServerOptions{TrustedCAs: pools}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewServer(tc.opts); err == nil {
				t.Error("NewServer succeeded")
			}
		})
	}
	s, err := NewServer(ServerOptions{TrustedCAs: pools, Allower: allow})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.opts.Clock.(clock.RealClock); !ok {
		t.Errorf("default clock = %T, want clock.RealClock", s.opts.Clock)
	}
}

// Extend (a renewal) lets an open session outlive the certificate it was opened with; a session
// of another cluster, not extended, ends as before.
func TestExtendKeepsTheSession(t *testing.T) {
	p := newPKI(t)
	fake := testingclock.NewFakeClock(time.Now())
	g := newGateway(t, p, fake)
	hourCert := func(cluster string) *tls.Certificate {
		return p.issue(certs.Request{
			CommonName: AgentCommonName(cluster), Organization: []string{AgentGroup},
			Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, Lifetime: time.Hour,
		})
	}
	targets := map[string]string{}
	for _, cluster := range []string{"member1", "member2"} {
		targets[cluster] = hostPort(newTarget(t, cluster))
		startAgent(t, agentOptions(g, hourCert(cluster), targets[cluster]))
		waitFor(t, cluster+" to connect", func() bool { return g.Connected(cluster) })
	}
	g.Extend("member1", fake.Now().Add(2*time.Hour))
	g.Extend("member1", fake.Now().Add(time.Minute)) // never shortens

	fake.Step(time.Hour + time.Second)
	waitFor(t, "member2's session to end", func() bool { return !g.Connected("member2") })
	if !g.Connected("member1") {
		t.Fatal("member1's extended session ended with its first certificate")
	}
	if got := getBody(t, g.client("member1"), "http://"+targets["member1"]+"/"); got != "member1" {
		t.Errorf("through member1's extended session: %q", got)
	}
	fake.Step(time.Hour)
	waitFor(t, "member1's session to end at the extended time", func() bool { return !g.Connected("member1") })
}
