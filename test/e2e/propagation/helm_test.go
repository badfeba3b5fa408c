package propagation

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/fleetgate/fleetgate/test/e2e/framework"
)

// TestHelm: the real Helm 3 CLI, pointed at the gateway with --kubeconfig, installs, upgrades and
// uninstalls a chart (testdata/chart-web: a Deployment, its Service and its ServiceAccount) whose
// objects a PropagationPolicy places on member1 and member2. Helm's --wait reads the templates
// through the gateway, so each step returns only once the gateway reports the members' work done.
func TestHelm(t *testing.T) {
	ns := namespace(t, "helm")
	framework.Apply(t, gw(), fmt.Sprintf(`apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata:
  name: web
  namespace: %s
spec:
  resourceSelectors:
    - apiVersion: apps/v1
      kind: Deployment
      name: web
    - apiVersion: v1
      kind: Service
      name: web
    - apiVersion: v1
      kind: ServiceAccount
      name: web
  placement:
    clusterAffinity:
      clusterNames:
        - member1
        - member2
`, ns))
	chart, err := filepath.Abs(filepath.Join("testdata", "chart-web"))
	if err != nil {
		t.Fatal(err)
	}
	h := newHelm(t, ns)
	h.must(t, 30*time.Second, "lint", chart)

	h.must(t, 3*time.Minute, "install", "web", chart, "--wait", "--timeout", "2m")
	for _, m := range []string{"member1", "member2"} {
		waitMember(t, m, ns, "serviceaccount", "web", present)
		waitMember(t, m, ns, "service", "web", present)
		waitMember(t, m, ns, "deployment", "web", rolledOut("nginx:1.27"))
		waitPods(t, m, ns, "nginx:1.27")
	}

	h.must(t, 3*time.Minute, "upgrade", "web", chart, "--set", "image.tag=1.28", "--wait", "--timeout", "2m")
	for _, m := range []string{"member1", "member2"} {
		waitMember(t, m, ns, "deployment", "web", rolledOut("nginx:1.28"))
		waitPods(t, m, ns, "nginx:1.28")
	}
	if out := h.must(t, 30*time.Second, "history", "web"); !strings.Contains(out, "deployed") || !strings.Contains(out, "superseded") {
		t.Errorf("helm history:\n%s", out)
	}

	h.must(t, 3*time.Minute, "uninstall", "web", "--wait", "--timeout", "2m")
	for _, m := range []string{"member1", "member2"} {
		for _, res := range []string{"deployment", "service", "serviceaccount"} {
			waitMember(t, m, ns, res, "web", absent)
		}
	}
	if out := h.must(t, 30*time.Second, "list", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("helm list after uninstall: %q", out)
	}
}

// helm runs bin/helm against the gateway in one namespace, with its cache, config and data under
// the test's temporary directory (so no repositories or plugins of the machine's user are used).
type helm struct {
	ns  string
	env []string
}

func newHelm(t *testing.T, ns string) *helm {
	home := t.TempDir()
	env := os.Environ()
	for _, d := range []string{"CACHE", "CONFIG", "DATA"} {
		env = append(env, "HELM_"+d+"_HOME="+filepath.Join(home, strings.ToLower(d)))
	}
	return &helm{ns: ns, env: env}
}

func (h *helm) run(timeout time.Duration, args ...string) framework.Result {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	// --debug: on a --wait that times out, helm says what it was waiting for.
	args = append(args, "--kubeconfig", gw(), "--namespace", h.ns, "--debug")
	cmd := exec.CommandContext(ctx, filepath.Join(framework.Env.BinDir, "helm"), args...)
	cmd.Env = h.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return framework.Result{Stdout: out.String(), Stderr: errb.String(), Err: err}
}

// must runs helm and fails the test with helm's output, and what the gateway and the members hold
// in the namespace, when it fails.
func (h *helm) must(t *testing.T, timeout time.Duration, args ...string) string {
	t.Helper()
	start := time.Now()
	r := h.run(timeout, args...)
	if r.Err != nil {
		t.Fatalf("helm %s: %v after %s\nstdout:\n%s\nstderr:\n%s\n%s", strings.Join(args, " "), r.Err,
			time.Since(start).Round(time.Second), r.Stdout, r.Stderr, h.state(t))
	}
	t.Logf("helm %s (%s):\n%s", args[0], time.Since(start).Round(time.Second), r.Stdout)
	return r.Stdout
}

// state is `kubectl get` of the chart's kinds (and the ReplicaSets and pods) through the gateway
// and on each member.
func (h *helm) state(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, c := range []struct{ name, kubeconfig string }{{"gateway", gw()}, {"member1", memberKC("member1")}, {"member2", memberKC("member2")}} {
		r := framework.KubectlResult(t, c.kubeconfig, "-n", h.ns, "get", "deployments,replicasets,pods,services,serviceaccounts", "-o", "wide")
		fmt.Fprintf(&b, "--- %s:\n%s%s", c.name, r.Stdout, r.Stderr)
	}
	return b.String()
}

// rolledOut accepts a member's Deployment once it has rolled out its one replica of image.
func rolledOut(img string) func(*unstructured.Unstructured) error {
	return func(u *unstructured.Unstructured) error {
		if u == nil {
			return fmt.Errorf("absent")
		}
		observed, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
		updated, _, _ := unstructured.NestedInt64(u.Object, "status", "updatedReplicas")
		ready, _, _ := unstructured.NestedInt64(u.Object, "status", "readyReplicas")
		total, _, _ := unstructured.NestedInt64(u.Object, "status", "replicas")
		if image(u) != img || observed < u.GetGeneration() || updated != 1 || ready != 1 || total != 1 {
			return fmt.Errorf("image %q observedGeneration %d/%d replicas %d updated %d ready %d, want %s rolled out",
				image(u), observed, u.GetGeneration(), total, updated, ready, img)
		}
		return nil
	}
}

// waitPods waits until the member runs exactly one pod of the chart, ready, with image.
func waitPods(t *testing.T, cluster, ns, img string) {
	t.Helper()
	eventually(t, 60*time.Second, func() error {
		r := framework.KubectlResult(t, memberKC(cluster), "-n", ns, "get", "pods", "-l", "app.kubernetes.io/instance=web", "-o",
			`jsonpath={range .items[*]}{.spec.containers[0].image}/{.status.phase}/{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`)
		if r.Err != nil {
			return fmt.Errorf("%s: %v %s", cluster, r.Err, r.Stderr)
		}
		if got, want := strings.TrimSpace(r.Stdout), img+"/Running/True"; got != want {
			return fmt.Errorf("%s pods %q, want %q", cluster, got, want)
		}
		return nil
	})
}
