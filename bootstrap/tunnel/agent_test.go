package tunnel

import (
	"context"
	"crypto/tls"
	"net"
	"sync/atomic"
	"testing"
)

func TestAgentDialsOnlyItsAddress(t *testing.T) {
	p := newPKI(t)
	g := newGateway(t, p, nil)
	target := newTarget(t, "member1")

	// elsewhere counts the connections it accepts; the agent must never make one.
	elsewhere, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer elsewhere.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := elsewhere.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()

	startAgent(t, agentOptions(g, p.agentCert("member1"), hostPort(target)))
	for _, tc := range []struct{ network, addr string }{
		{"tcp", elsewhere.Addr().String()},
		{"udp", hostPort(target)},
	} {
		waitFor(t, "member1 to connect", func() bool { return g.Connected("member1") })
		conn, err := g.Dial(context.Background(), "member1", tc.network, tc.addr)
		if err != nil {
			continue // refused before the agent was asked
		}
		expectRefused(t, conn)
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("the agent dialed a forbidden address %d times", n)
	}
	// The agent comes back, and its own address still works.
	waitFor(t, "member1 to connect again", func() bool { return g.Connected("member1") })
	if got := getBody(t, g.client("member1"), target.URL); got != "member1" {
		t.Errorf("body = %q", got)
	}
}

func TestOptionsValidate(t *testing.T) {
	valid := func() Options {
		return Options{
			URL:         "wss://gateway.example:8443/tunnel",
			Certificate: func() (*tls.Certificate, error) { return nil, nil },
			RootCAs:     newPKI(t).ca.Pool(),
			Address:     "10.0.0.1:6443",
		}
	}
	for _, tc := range []struct {
		name   string
		change func(*Options)
		ok     bool
	}{
		{"valid", func(*Options) {}, true},
		{"https URL", func(o *Options) { o.URL = "https://gateway.example:8443/tunnel" }, false},
		{"no host", func(o *Options) { o.URL = "wss:///tunnel" }, false},
		{"no certificate", func(o *Options) { o.Certificate = nil }, false},
		{"no root CAs", func(o *Options) { o.RootCAs = nil }, false},
		{"no address", func(o *Options) { o.Address = "" }, false},
		{"address without port", func(o *Options) { o.Address = "10.0.0.1" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := valid()
			tc.change(&o)
			if err := o.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	if err := Run(context.Background(), Options{}); err == nil {
		t.Error("Run with no options succeeded")
	}
}
