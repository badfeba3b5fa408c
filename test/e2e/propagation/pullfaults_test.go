package propagation

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/test/e2e/framework"
)

// pullMember skips the test unless the environment registered name in Pull mode.
func pullMember(t *testing.T, name string) {
	t.Helper()
	if !framework.Env.Member(name).Pull() {
		t.Skipf("%s is not in Pull mode in this run (%s)", name, framework.PullEnv)
	}
}

// TestPullAgentDownAndBack: with member2's agent killed, requests to member2 fail fast with 503
// naming it, while member1 is served; what is propagated meanwhile reaches member2 once the agent
// is back.
func TestPullAgentDownAndBack(t *testing.T) {
	pullMember(t, "member2")
	ns := namespace(t, "agent-down")
	framework.Apply(t, gw(), pp(ns, "both", "", "clusterAffinity: {clusterNames: [member1, member2]}"))
	waitMember(t, "member2", "", "namespace", ns, present)
	m2 := framework.Env.Member("member2")
	if err := m2.StopAgent(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	defer func() {
		if !restarted {
			startAgentAgain(t, "member2")
		}
	}()
	began := time.Now()
	r := framework.KubectlResult(t, gw(), "--server", framework.Env.GatewayURL+"/clusters/member2", "get", "--raw", "/api/v1/namespaces/"+ns+"/configmaps", "--request-timeout=20s")
	if r.Err == nil || !(strings.Contains(r.Stderr, "503") || strings.Contains(r.Stderr, "ServiceUnavailable")) || !strings.Contains(r.Stderr, "member2") {
		t.Errorf("with member2's agent down, a request to member2: %v\n%s%s; want 503 naming member2", r.Err, r.Stdout, r.Stderr)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("with member2's agent down, the request took %s to fail", d)
	}
	framework.Kubectl(t, gw(), "-n", ns, "create", "deployment", "while-away", "--image", "nginx")
	waitMember(t, "member1", ns, "deployment", "while-away", present)
	if out := framework.Kubectl(t, gw(), "--server", framework.Env.GatewayURL+"/clusters/member1", "-n", ns, "get", "deployment", "while-away", "-o", "name"); strings.TrimSpace(out) != "deployment.apps/while-away" {
		t.Errorf("member1 while member2's agent is down: %q", out)
	}
	startAgentAgain(t, "member2")
	restarted = true
	waitMember(t, "member2", ns, "deployment", "while-away", present)
}

// TestPullGatewayRestart: after the gateway restarts, member2's agent reconnects within 10s of the
// gateway being ready again, and member2 is reached through its tunnel.
func TestPullGatewayRestart(t *testing.T) {
	pullMember(t, "member2")
	if err := framework.Env.StopGateway(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := framework.Env.StartGateway(t.Context()); err != nil {
		t.Fatal(err)
	}
	ready := time.Now()
	framework.Eventually(t, 30*time.Second, func() error {
		r := framework.KubectlResult(t, gw(), "--server", framework.Env.GatewayURL+"/clusters/member2", "get", "--raw", "/version", "--request-timeout=5s")
		if r.Err != nil {
			return fmt.Errorf("member2 through its tunnel: %v %s", r.Err, r.Stderr)
		}
		return nil
	})
	if d := time.Since(ready); d > 10*time.Second {
		t.Errorf("member2's agent reconnected %s after the gateway was ready again, want within 10s", d.Round(100*time.Millisecond))
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := framework.WaitClustersReady(ctx, framework.Env, "member1", "member2"); err != nil {
		t.Fatal(err)
	}
}

// startAgentAgain starts the member's agent again and waits until the gateway sees it Ready.
func startAgentAgain(t *testing.T, name string) {
	t.Helper()
	if err := framework.Env.Member(name).StartAgent(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := framework.WaitClustersReady(ctx, framework.Env, name); err != nil {
		t.Fatal(err)
	}
}
