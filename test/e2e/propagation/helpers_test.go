package propagation

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	workv1alpha2 "github.com/fleetgate/fleetgate/apis/work/v1alpha2"
	"github.com/fleetgate/fleetgate/test/e2e/framework"
)

func gw() string { return framework.Env.GatewayKubeconfig }

func memberKC(name string) string { return framework.Env.Member(name).Kubeconfig }

// namespace creates a namespace for one test through the gateway and deletes it afterwards.
func namespace(t *testing.T, name string) string {
	t.Helper()
	framework.Kubectl(t, gw(), "create", "namespace", name)
	t.Cleanup(func() {
		framework.KubectlResult(t, gw(), "delete", "namespace", name, "--wait=false")
	})
	return name
}

// getMember reads an object from a member; nil when it does not exist.
func getMember(t *testing.T, cluster, ns, resource, name string) *unstructured.Unstructured {
	t.Helper()
	r := framework.KubectlResult(t, memberKC(cluster), "-n", ns, "get", resource, name, "-o", "json", "--ignore-not-found")
	if r.Err != nil {
		t.Fatalf("get %s %s/%s in %s: %v %s", resource, ns, name, cluster, r.Err, r.Stderr)
	}
	if strings.TrimSpace(r.Stdout) == "" {
		return nil
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON([]byte(r.Stdout)); err != nil {
		t.Fatal(err)
	}
	return u
}

// eventually polls cond with a deadline.
func eventually(t *testing.T, timeout time.Duration, cond func() error) {
	t.Helper()
	framework.Eventually(t, timeout, cond)
}

// waitMember waits until check accepts the member's object (nil when absent).
func waitMember(t *testing.T, cluster, ns, resource, name string, check func(*unstructured.Unstructured) error) {
	t.Helper()
	eventually(t, 60*time.Second, func() error {
		return check(getMember(t, cluster, ns, resource, name))
	})
}

func present(u *unstructured.Unstructured) error {
	if u == nil {
		return fmt.Errorf("absent")
	}
	return nil
}

func absent(u *unstructured.Unstructured) error {
	if u != nil {
		return fmt.Errorf("still there")
	}
	return nil
}

func replicas(want int64) func(*unstructured.Unstructured) error {
	return func(u *unstructured.Unstructured) error {
		if u == nil {
			return fmt.Errorf("absent")
		}
		got, _, _ := unstructured.NestedInt64(u.Object, "spec", "replicas")
		if got != want {
			return fmt.Errorf("spec.replicas %d, want %d", got, want)
		}
		return nil
	}
}

func image(u *unstructured.Unstructured) string {
	cs, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
	if len(cs) == 0 {
		return ""
	}
	s, _ := cs[0].(map[string]any)["image"].(string)
	return s
}

// binding reads a ResourceBinding through the gateway.
func binding(t *testing.T, ns, name string) (*workv1alpha2.ResourceBinding, error) {
	t.Helper()
	r := framework.KubectlResult(t, gw(), "-n", ns, "get", "rb", name, "-o", "json")
	if r.Err != nil {
		return nil, fmt.Errorf("%v: %s", r.Err, r.Stderr)
	}
	var rb workv1alpha2.ResourceBinding
	if err := json.Unmarshal([]byte(r.Stdout), &rb); err != nil {
		return nil, err
	}
	return &rb, nil
}

func condition(rb *workv1alpha2.ResourceBinding, typ string) string {
	for _, c := range rb.Status.Conditions {
		if c.Type == typ {
			return string(c.Status)
		}
	}
	return ""
}

// targets is "member1=1,member2=2" for a binding's spec.clusters.
func targets(rb *workv1alpha2.ResourceBinding) string {
	var parts []string
	for _, c := range rb.Spec.Clusters {
		parts = append(parts, fmt.Sprintf("%s=%d", c.Name, c.Replicas))
	}
	return strings.Join(parts, ",")
}

// waitBinding waits until check accepts the binding.
func waitBinding(t *testing.T, ns, name string, check func(*workv1alpha2.ResourceBinding) error) *workv1alpha2.ResourceBinding {
	t.Helper()
	var rb *workv1alpha2.ResourceBinding
	eventually(t, 60*time.Second, func() error {
		var err error
		if rb, err = binding(t, ns, name); err != nil {
			return err
		}
		return check(rb)
	})
	return rb
}

func wantTargets(want string) func(*workv1alpha2.ResourceBinding) error {
	return func(rb *workv1alpha2.ResourceBinding) error {
		if got := targets(rb); got != want {
			return fmt.Errorf("binding targets %q, want %q", got, want)
		}
		return nil
	}
}

// pp is a PropagationPolicy manifest for Deployment name (all when empty) in ns with a placement.
func pp(ns, policy, name, placement string) string {
	sel := "- apiVersion: apps/v1\n    kind: Deployment"
	if name != "" {
		sel += "\n    name: " + name
	}
	return fmt.Sprintf(`apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata:
  name: %s
  namespace: %s
spec:
  resourceSelectors:
  %s
  placement:
%s
`, policy, ns, sel, indent(placement, "    "))
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}

// startMemberAgain starts a member's stopped kube-apiserver again and waits until the gateway sees
// the cluster Ready and the member's own controllers work again (a new namespace gets its default
// ServiceAccount): after the apiserver went away, kube-controller-manager's reflectors back off for
// up to 30s, and a later test's pods would wait for them.
func startMemberAgain(t *testing.T, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := framework.Env.Member(name).StartAPIServer(ctx); err != nil {
		t.Fatalf("start %s's apiserver again: %v", name, err)
	}
	if err := framework.WaitClustersReady(ctx, framework.Env, name); err != nil {
		t.Fatal(err)
	}
	probe := fmt.Sprintf("probe-%d", time.Now().UnixNano())
	framework.Kubectl(t, memberKC(name), "create", "namespace", probe)
	defer framework.KubectlResult(t, memberKC(name), "delete", "namespace", probe, "--wait=false")
	framework.Eventually(t, 2*time.Minute, func() error {
		if r := framework.KubectlResult(t, memberKC(name), "-n", probe, "get", "serviceaccount", "default"); r.Err != nil {
			return fmt.Errorf("%s's controllers have not created the default ServiceAccount of a new namespace: %s", name, r.Stderr)
		}
		return nil
	})
}
