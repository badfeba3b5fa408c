package bootstrap

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/fleetgate/fleetgate/bootstrap/tunnel"
)

// listeningSockets returns the TCP sockets this process listens on (inode → local address, as
// /proc/net/tcp{,6} write it).
func listeningSockets(t *testing.T) map[string]string {
	t.Helper()
	ours := map[string]bool{}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if inode, ok := strings.CutPrefix(link, "socket:["); err == nil && ok {
			ours[strings.TrimSuffix(inode, "]")] = true
		}
	}
	listening := map[string]string{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		s := bufio.NewScanner(f)
		for s.Scan() {
			fields := strings.Fields(s.Text())
			// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
			if len(fields) >= 10 && fields[3] == "0A" && ours[fields[9]] {
				listening[fields[9]] = fields[1]
			}
		}
		f.Close()
	}
	return listening
}

// TestAgentListensOnNoSocket: the agent's proxy to its member is reachable through the tunnel only.
// It used to listen on a loopback port, where any process on the agent's host (or in its pod)
// could use the agent's member credentials without any.
func TestAgentListensOnNoSocket(t *testing.T) {
	g := newRenewGateway(t, time.Hour)
	member := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "member2") }))
	t.Cleanup(member.Close)
	dir := g.agentDir(t, "member2", CASigner{CA: g.ca, Lifetime: time.Hour}, true)
	before := listeningSockets(t)
	if len(before) == 0 {
		t.Fatal("found none of the test's own listening sockets: the scan does not work here")
	}

	runTestAgent(t, g, "member2", dir, member.URL)
	// The positive signal: the agent serves through its tunnel.
	c := &http.Client{Transport: &http.Transport{DialContext: g.tunnels.DialerFor("member2")}, Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + tunnel.AgentAddress + "/version")
	if err != nil {
		t.Fatalf("a request through the tunnel: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "member2" {
		t.Fatalf("through the tunnel: %s %q", resp.Status, body)
	}
	for inode, addr := range listeningSockets(t) {
		if _, ok := before[inode]; !ok {
			t.Errorf("the running agent listens on %s (socket %s)", addr, inode)
		}
	}
}

// runTestAgent runs RunAgent for cluster's dir against g and member until the test ends, and returns once
// the agent is connected and the gateway has registered its session (the agent's OnConnect can
// come before that). It returns how often the agent has connected.
func runTestAgent(t *testing.T, g *renewGateway, cluster, dir, member string) *atomic.Int32 {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var connects atomic.Int32
	connected := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		done <- RunAgent(ctx, AgentOptions{Gateway: g.addr, Dir: dir, Member: &rest.Config{Host: member}, OnConnect: func() {
			connects.Add(1)
			select {
			case connected <- struct{}{}:
			default:
			}
		}})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunAgent: %v", err)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	select {
	case <-connected:
	case <-time.After(time.Until(deadline)):
		t.Fatal("the agent did not connect")
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !g.tunnels.Connected(cluster) {
		if time.Now().After(deadline) {
			t.Fatalf("the gateway has no session of %s's agent", cluster)
		}
		<-tick.C
	}
	return &connects
}
