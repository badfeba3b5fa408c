package foundation

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/test/e2e/framework"
)

// TestConfigMapLifecycleThroughTheGateway: create, get, list (chunked), watch, patch, delete.
func TestConfigMapLifecycleThroughTheGateway(t *testing.T) {
	kc := framework.Env.GatewayKubeconfig
	ns := "e2e-configmaps"
	framework.Kubectl(t, kc, "create", "namespace", ns)
	t.Cleanup(func() { framework.KubectlResult(t, kc, "delete", "namespace", ns, "--wait=false") })

	// Watch first, so that the create below must arrive as an event.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	watch := exec.CommandContext(ctx, filepath.Join(framework.Env.BinDir, "kubectl"), "--kubeconfig", kc,
		"-n", ns, "get", "configmaps", "-w", "--output-watch-events")
	stdout, err := watch.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = watch.Wait() }()
	events := make(chan string, 100)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			events <- s.Text()
		}
		close(events)
	}()
	// Whether kubectl lists cm-0 or sees it created, --output-watch-events prints it as ADDED.
	framework.Kubectl(t, kc, "-n", ns, "create", "configmap", "cm-0", "--from-literal=k=v0")
	waitEvent(t, events, "ADDED", "cm-0")

	for i := 1; i < 5; i++ {
		framework.Kubectl(t, kc, "-n", ns, "create", "configmap", fmt.Sprintf("cm-%d", i), fmt.Sprintf("--from-literal=k=v%d", i))
	}
	if got := framework.Kubectl(t, kc, "-n", ns, "get", "configmap", "cm-3", "-o", "jsonpath={.data.k}"); got != "v3" {
		t.Errorf("get cm-3: data.k=%q, want v3", got)
	}
	// Chunked list: kubectl pages with limit/continue through the gateway.
	list := framework.Kubectl(t, kc, "-n", ns, "get", "configmaps", "--chunk-size=2", "-o", "name")
	for i := range 5 {
		if !strings.Contains(list, fmt.Sprintf("configmap/cm-%d\n", i)) {
			t.Errorf("chunked list lacks cm-%d:\n%s", i, list)
		}
	}
	framework.Kubectl(t, kc, "-n", ns, "patch", "configmap", "cm-1", "--type=merge", "-p", `{"data":{"k":"patched"}}`)
	waitEvent(t, events, "MODIFIED", "cm-1")
	if got := framework.Kubectl(t, kc, "-n", ns, "get", "configmap", "cm-1", "-o", "jsonpath={.data.k}"); got != "patched" {
		t.Errorf("after patch: data.k=%q", got)
	}
	framework.Kubectl(t, kc, "-n", ns, "delete", "configmap", "cm-2")
	waitEvent(t, events, "DELETED", "cm-2")
	if r := framework.KubectlResult(t, kc, "-n", ns, "get", "configmap", "cm-2"); r.Err == nil || !strings.Contains(r.Stderr, "NotFound") {
		t.Errorf("get after delete: want NotFound, got %v %s", r.Err, r.Stderr)
	}
}

func waitEvent(t *testing.T, events <-chan string, kind, name string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatalf("watch ended before %s %s", kind, name)
			}
			// Lines are "EVENT NAME DATA AGE".
			if f := strings.Fields(e); len(f) >= 2 && f[0] == kind && f[1] == name {
				return
			}
		case <-timeout:
			t.Fatalf("no %s event for %s within 30s", kind, name)
		}
	}
}

func TestDiscoveryListsFleetgateKindsAndExplainWorks(t *testing.T) {
	kc := framework.Env.GatewayKubeconfig
	out := framework.Kubectl(t, kc, "api-resources")
	for _, want := range []string{
		`(?m)^clusters\s+cluster\.karmada\.io/v1alpha1\s+false\s+Cluster$`,
		`(?m)^propagationpolicies\s+pp\s+policy\.karmada\.io/v1alpha1\s+true\s+PropagationPolicy$`,
		`(?m)^clusterpropagationpolicies\s+cpp\s+policy\.karmada\.io/v1alpha1\s+false\s+ClusterPropagationPolicy$`,
		`(?m)^overridepolicies\s+op\s+policy\.karmada\.io/v1alpha1\s+true\s+OverridePolicy$`,
		`(?m)^clusteroverridepolicies\s+cop\s+policy\.karmada\.io/v1alpha1\s+false\s+ClusterOverridePolicy$`,
		`(?m)^resourcebindings\s+rb\s+work\.karmada\.io/v1alpha2\s+true\s+ResourceBinding$`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("kubectl api-resources: no line matching %s", want)
		}
	}
	explain := framework.Kubectl(t, kc, "explain", "propagationpolicy.spec.placement")
	for _, want := range []string{"KIND:       PropagationPolicy", "FIELD: placement", "clusterAffinity", "replicaScheduling", "spreadConstraints"} {
		if !strings.Contains(explain, want) {
			t.Errorf("kubectl explain propagationpolicy.spec.placement lacks %q:\n%s", want, explain)
		}
	}
}

// TestWalkthroughManifestsApplyUnchanged applies the Karmada manifests of WALKTHROUGH.md as they are.
func TestWalkthroughManifestsApplyUnchanged(t *testing.T) {
	kc := framework.Env.GatewayKubeconfig
	for _, f := range []string{"testdata/propagationpolicy.yaml", "testdata/overridepolicy.yaml"} {
		out := framework.Kubectl(t, kc, "apply", "-f", f)
		if !strings.Contains(out, "created") && !strings.Contains(out, "unchanged") {
			t.Errorf("apply %s: %s", f, out)
		}
	}
	pp := framework.Kubectl(t, kc, "get", "pp", "example-policy", "-o", "jsonpath={.spec.placement.clusterAffinity.clusterNames}")
	if pp != `["cluster1","cluster2"]` {
		t.Errorf("stored clusterNames %s", pp)
	}
	if got := framework.Kubectl(t, kc, "get", "pp"); !regexp.MustCompile(`(?m)^NAME\s+CONFLICT-RESOLUTION\s+PRIORITY\s+AGE\n.*example-policy\s+Abort\s+0\s`).MatchString(got) {
		t.Errorf("kubectl get pp:\n%s", got)
	}
	op := framework.Kubectl(t, kc, "get", "op", "example", "-o", "jsonpath={.spec.overrideRules[0].overriders.imageOverrider[0].value}")
	if op != "1.20" {
		t.Errorf("stored image override value %q, want 1.20", op)
	}
}
