package propagation

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/test/e2e/framework"
)

// TestMemberDownDuringApplyCatchesUp: a member whose apiserver is down while a template is created
// gets the object once it is back.
func TestMemberDownDuringApplyCatchesUp(t *testing.T) {
	ns := namespace(t, "member-down")
	framework.Apply(t, gw(), pp(ns, "both", "", "clusterAffinity: {clusterNames: [member1, member2]}"))
	waitMember(t, "member2", "", "namespace", ns, present)
	m2 := framework.Env.Member("member2")
	if err := m2.StopAPIServer(t.Context()); err != nil {
		t.Fatal(err)
	}
	restarted := false
	defer func() {
		if !restarted {
			startMemberAgain(t, "member2")
		}
	}()
	framework.Kubectl(t, gw(), "-n", ns, "create", "deployment", "late", "--image", "nginx")
	waitMember(t, "member1", ns, "deployment", "late", present)
	startMemberAgain(t, "member2")
	restarted = true
	waitMember(t, "member2", ns, "deployment", "late", present)
}

// TestDeletionWaitsForADownMember: the template stays Terminating while a member holding a copy is
// down, and goes once it is back.
func TestDeletionWaitsForADownMember(t *testing.T) {
	ns := namespace(t, "delete-down")
	framework.Apply(t, gw(), pp(ns, "both", "", "clusterAffinity: {clusterNames: [member1, member2]}"))
	framework.Kubectl(t, gw(), "-n", ns, "create", "deployment", "doomed", "--image", "nginx")
	waitMember(t, "member2", ns, "deployment", "doomed", present)
	m2 := framework.Env.Member("member2")
	if err := m2.StopAPIServer(t.Context()); err != nil {
		t.Fatal(err)
	}
	restarted := false
	defer func() {
		if !restarted {
			startMemberAgain(t, "member2")
		}
	}()
	framework.Kubectl(t, gw(), "-n", ns, "delete", "deployment", "doomed", "--wait=false")
	waitMember(t, "member1", ns, "deployment", "doomed", absent)
	// Still Terminating in the host: the finalizer waits for member2.
	for range 3 {
		ts := framework.Kubectl(t, gw(), "-n", ns, "get", "deployment", "doomed", "-o", "jsonpath={.metadata.deletionTimestamp}")
		if ts == "" {
			t.Fatal("template gone while member2 still holds a copy")
		}
		time.Sleep(time.Second) // observe that it stays, not waiting for a change
	}
	startMemberAgain(t, "member2")
	restarted = true
	waitMember(t, "member2", ns, "deployment", "doomed", absent)
	eventually(t, 60*time.Second, func() error {
		if r := framework.KubectlResult(t, gw(), "-n", ns, "get", "deployment", "doomed", "--ignore-not-found", "-o", "name"); strings.TrimSpace(r.Stdout) != "" {
			return fmt.Errorf("template still there")
		}
		return nil
	})
}

// TestTemplateWrittenStraightToTheHostIsPropagated: bypassing the gateway loses nothing.
func TestTemplateWrittenStraightToTheHostIsPropagated(t *testing.T) {
	ns := namespace(t, "bypass")
	framework.Apply(t, gw(), pp(ns, "both", "", "clusterAffinity: {clusterNames: [member1, member2]}"))
	framework.Kubectl(t, framework.Env.Host.Kubeconfig, "-n", ns, "create", "deployment", "direct", "--image", "nginx")
	for _, m := range []string{"member1", "member2"} {
		waitMember(t, m, ns, "deployment", "direct", present)
	}
}

// TestLateClusterGetsItsTemplates: a cluster joined later gets every template placed on it.
func TestLateClusterGetsItsTemplates(t *testing.T) {
	ns := namespace(t, "late-cluster")
	framework.Apply(t, gw(), pp(ns, "everywhere", "", "clusterAffinity: {}"))
	framework.Kubectl(t, gw(), "-n", ns, "create", "deployment", "early", "--image", "nginx")
	waitMember(t, "member1", ns, "deployment", "early", present)
	r := framework.Fleetgate(t, "join", "member3", "--kubeconfig", gw(), "--cluster-kubeconfig", memberKC("member3"))
	if r.Err != nil {
		t.Fatalf("join member3: %v\n%s", r.Err, r.Stderr)
	}
	t.Cleanup(func() {
		framework.Fleetgate(t, "unjoin", "member3", "--kubeconfig", gw(), "--cluster-kubeconfig", memberKC("member3"))
	})
	waitMember(t, "member3", ns, "deployment", "early", present)
}

// TestGatewayKilledDuringABurst: kill -9 of the gateway during 500 applies, then a restart: every
// object the host has is on every target, and no member has an object the host does not.
func TestGatewayKilledDuringABurst(t *testing.T) {
	ns := namespace(t, "burst")
	framework.Apply(t, gw(), fmt.Sprintf(`apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {name: cms, namespace: %s}
spec:
  resourceSelectors: [{apiVersion: v1, kind: ConfigMap, labelSelector: {matchLabels: {burst: "yes"}}}]
  placement: {clusterAffinity: {clusterNames: [member1, member2]}}
`, ns))
	const n = 500
	var wg sync.WaitGroup
	work := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				// Errors are expected while the gateway is down; what the host stored is what counts.
				framework.KubectlStdin(t, gw(), fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%03d, namespace: %s, labels: {burst: \"yes\"}}\ndata: {i: \"%d\"}\n", i, ns, i),
					"apply", "-f", "-", "--request-timeout=10s")
			}
		}()
	}
	for i := range n {
		if i == n/3 {
			if err := framework.Env.KillGateway(); err != nil {
				t.Fatal(err)
			}
			if err := framework.Env.StartGateway(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		work <- i
	}
	close(work)
	wg.Wait()
	host := names(t, framework.Env.Host.Kubeconfig, ns, "burst=yes")
	if len(host) < n/2 {
		t.Fatalf("only %d of %d ConfigMaps reached the host", len(host), n)
	}
	for _, m := range []string{"member1", "member2"} {
		eventually(t, 120*time.Second, func() error {
			got := names(t, memberKC(m), ns, "burst=yes")
			if got != host {
				return fmt.Errorf("%s has %d ConfigMaps, the host %d", m, count(got), count(host))
			}
			return nil
		})
	}
}

func names(t *testing.T, kubeconfig, ns, selector string) string {
	t.Helper()
	return framework.Kubectl(t, kubeconfig, "-n", ns, "get", "configmaps", "-l", selector, "-o", "name", "--sort-by=.metadata.name")
}

func count(s string) int { return strings.Count(s, "\n") }
