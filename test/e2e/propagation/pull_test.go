package propagation

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/test/e2e/framework"
)

// agentProcess is `fleetgate agent` for member3, running until stopped.
type agentProcess struct {
	cmd    *exec.Cmd
	cancel context.CancelFunc
	out    *syncBuffer
}

func startAgent(t *testing.T, gateway, dir string) *agentProcess {
	t.Helper()
	return startFleetgate(t, "agent", gateway, "--dir", dir, "--kubeconfig", memberKC("member3"))
}

// startFleetgate runs the fleetgate CLI with args in the background.
func startFleetgate(t *testing.T, args ...string) *agentProcess {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, filepath.Join(framework.Env.BinDir, "fleetgate"), args...)
	a := &agentProcess{cmd: cmd, cancel: cancel, out: &syncBuffer{}}
	cmd.Stdout, cmd.Stderr = a.out, a.out
	// Killed with the test binary too, should it die before stop.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return a
}

func (a *agentProcess) stop() {
	a.cancel()
	_ = a.cmd.Wait()
}

// TestPullMember: member3 registers in Pull mode with a bootstrap token and runs its agent
// (register --run-local, later fleetgate agent); the
// gateway reaches it only through the agent's tunnel: its health (Ready), propagation, and the
// cluster proxy as the caller. With the agent killed, requests to member3 fail fast naming it; with
// the agent back, what was propagated meanwhile arrives.
func TestPullMember(t *testing.T) {
	r := framework.Fleetgate(t, "token", "create", "--kubeconfig", gw(), "--print-register-command")
	m := regexp.MustCompile(`^fleetgate register (\S+) --token (\S+) --discovery-token-ca-cert-hash (\S+)\n$`).FindStringSubmatch(r.Stdout)
	if r.Err != nil || m == nil {
		t.Fatalf("token create: %v %q %s", r.Err, r.Stdout, r.Stderr)
	}
	dir := t.TempDir()
	// register --run-local stays in the foreground running the agent, once it says so.
	agent := startFleetgate(t, "register", m[1], "--token", m[2], "--discovery-token-ca-cert-hash", m[3], "--cluster-name", "member3",
		"--dir", dir, "--run-local", "--kubeconfig", memberKC("member3"))
	framework.Eventually(t, time.Minute, func() error {
		if out := agent.out.String(); !strings.Contains(out, "cluster(member3) is joined successfully") {
			return fmt.Errorf("register --run-local has not joined member3 yet:\n%s", out)
		}
		return nil
	})
	t.Cleanup(func() {
		// The Cluster goes first (its copies are swept through the tunnel), then the agent.
		framework.KubectlResult(t, gw(), "delete", "cluster", "member3", "--ignore-not-found", "--timeout=60s")
		agent.stop()
		if t.Failed() {
			t.Logf("agent output:\n%s", agent.out.String())
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := framework.WaitClustersReady(ctx, framework.Env, "member3"); err != nil {
		t.Fatalf("member3 through its tunnel: %v\nagent:\n%s", err, agent.out.String())
	}
	if mode := framework.Kubectl(t, gw(), "get", "cluster", "member3", "-o", "jsonpath={.spec.syncMode}"); mode != "Pull" {
		t.Errorf("member3 syncMode %q", mode)
	}

	ns := namespace(t, "pull")
	framework.Apply(t, gw(), fmt.Sprintf(`apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {name: to-member3, namespace: %s}
spec:
  resourceSelectors: [{apiVersion: v1, kind: ConfigMap}]
  placement: {clusterAffinity: {clusterNames: [member3]}}
`, ns))
	framework.Kubectl(t, gw(), "-n", ns, "create", "configmap", "first", "--from-literal=a=1")
	waitMember(t, "member3", ns, "configmap", "first", present)

	server := framework.Env.GatewayURL + "/clusters/member3"
	if out := framework.Kubectl(t, gw(), "--server", server, "-n", ns, "get", "configmap", "first", "-o", "name"); strings.TrimSpace(out) != "configmap/first" {
		t.Errorf("get through /clusters/member3: %q", out)
	}

	agent.stop()
	began := time.Now()
	res := framework.KubectlResult(t, gw(), "--server", server, "-n", ns, "get", "configmaps", "--request-timeout=20s")
	if res.Err == nil || !strings.Contains(res.Stderr, "member3") {
		t.Errorf("with the agent stopped, get through /clusters/member3: %v\n%s%s; want an error naming member3", res.Err, res.Stdout, res.Stderr)
	}
	if d := time.Since(began); d > 10*time.Second {
		t.Errorf("with the agent stopped, the request took %s to fail", d)
	}
	framework.Kubectl(t, gw(), "-n", ns, "create", "configmap", "while-away", "--from-literal=a=2")

	agent = startAgent(t, m[1], dir)
	waitMember(t, "member3", ns, "configmap", "while-away", present)
	if out := framework.Kubectl(t, gw(), "--server", server, "-n", ns, "get", "configmap", "while-away", "-o", "name"); strings.TrimSpace(out) != "configmap/while-away" {
		t.Errorf("get through /clusters/member3 after the agent came back: %q", out)
	}

	// The Cluster deleted: its tunnel is closed and its certificate refused from then on.
	framework.Kubectl(t, gw(), "delete", "cluster", "member3", "--timeout=60s")
	framework.Eventually(t, time.Minute, func() error {
		if !strings.Contains(agent.out.String(), "cluster member3 is not registered") {
			return fmt.Errorf("the agent of the deleted member3 is not refused yet:\n%s", agent.out.String())
		}
		return nil
	})
}
