package propagation

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	workv1alpha2 "github.com/fleetgate/fleetgate/apis/work/v1alpha2"
	"github.com/fleetgate/fleetgate/test/e2e/framework"
)

func imageIs(want string) func(*unstructured.Unstructured) error {
	return func(u *unstructured.Unstructured) error {
		if u == nil {
			return fmt.Errorf("absent")
		}
		if got := image(u); got != want {
			return fmt.Errorf("image %q, want %q", got, want)
		}
		return nil
	}
}

// TestWalkthroughStep4 is WALKTHROUGH.md step 4: the OverridePolicy applied unchanged (cluster names
// substituted) gives member1 nginx:1.20 and leaves member2 on nginx; deleting it restores member1.
func TestWalkthroughStep4(t *testing.T) {
	ns := namespace(t, "walkthrough4")
	framework.Apply(t, gw(), pp(ns, "example-policy", "nginx", "clusterAffinity:\n  clusterNames: [member1, member2]"))
	framework.Kubectl(t, gw(), "-n", ns, "create", "deployment", "nginx", "--image", "nginx")
	waitMember(t, "member2", ns, "deployment", "nginx", present)
	framework.Apply(t, gw(), fmt.Sprintf(`apiVersion: policy.karmada.io/v1alpha1
kind: OverridePolicy
metadata:
  name: example
  namespace: %s
spec:
  resourceSelectors:
    - apiVersion: apps/v1
      kind: Deployment
      name: nginx
      labelSelector:
        matchLabels:
          app: nginx
  overrideRules:
    - targetCluster:
        clusterNames:
          - member1
      overriders:
        imageOverrider:
          - component: Tag
            operator: replace
            value: '1.20'
`, ns))
	waitMember(t, "member1", ns, "deployment", "nginx", imageIs("nginx:1.20"))
	if err := imageIs("nginx")(getMember(t, "member2", ns, "deployment", "nginx")); err != nil {
		t.Errorf("member2: %v", err)
	}
	// The binding records what was applied where.
	waitBinding(t, ns, "nginx-deployment", func(rb *workv1alpha2.ResourceBinding) error {
		for k, v := range rb.Annotations {
			if strings.Contains(k, "applied-overrides") && strings.Contains(v, "example") && strings.Contains(v, "member1") {
				return nil
			}
		}
		return fmt.Errorf("no applied-overrides annotation naming example and member1: %v", rb.Annotations)
	})
	// New templates get the override at admission already.
	framework.Kubectl(t, gw(), "-n", ns, "delete", "op", "example")
	waitMember(t, "member1", ns, "deployment", "nginx", imageIs("nginx"))
}

// TestOverrideFailures: an override whose result a member rejects fails the write at admission,
// naming the policy and the cluster; a plaintext path that does not exist names the policy and path.
func TestOverrideFailures(t *testing.T) {
	ns := namespace(t, "override-failures")
	framework.Apply(t, gw(), pp(ns, "both", "", "clusterAffinity:\n  clusterNames: [member1, member2]"))
	framework.Apply(t, gw(), fmt.Sprintf(`apiVersion: policy.karmada.io/v1alpha1
kind: OverridePolicy
metadata: {name: breaks-member2, namespace: %[1]s}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment, name: bad}]
  overrideRules:
  - targetCluster: {clusterNames: [member2]}
    overriders:
      plaintext: [{path: /spec/replicas, operator: replace, value: -5}]
---
apiVersion: policy.karmada.io/v1alpha1
kind: OverridePolicy
metadata: {name: wrong-path, namespace: %[1]s}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment, name: nopath}]
  overrideRules:
  - overriders:
      plaintext: [{path: /spec/nope/deeper, operator: replace, value: 1}]
`, ns))
	r := framework.KubectlResult(t, gw(), "-n", ns, "create", "deployment", "bad", "--image", "nginx")
	if r.Err == nil {
		t.Fatal("a Deployment that member2 must reject after overrides was accepted")
	}
	for _, want := range []string{"member2", "replicas"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("rejection does not mention %q: %s", want, r.Stderr)
		}
	}
	r = framework.KubectlResult(t, gw(), "-n", ns, "create", "deployment", "nopath", "--image", "nginx")
	if r.Err == nil {
		t.Fatal("a missing plaintext path was accepted")
	}
	for _, want := range []string{"wrong-path", "/spec/nope"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("rejection does not name %q: %s", want, r.Stderr)
		}
	}

	// Without member dry-run: accepted; member1 is updated, member2's failure is on the binding.
	restartGateway(t, "--member-dry-run=false")
	defer restartGateway(t)
	framework.Kubectl(t, gw(), "-n", ns, "create", "deployment", "bad", "--image", "nginx")
	waitMember(t, "member1", ns, "deployment", "bad", present)
	waitBinding(t, ns, "bad-deployment", func(rb *workv1alpha2.ResourceBinding) error {
		for _, s := range rb.Status.AggregatedStatus {
			if s.ClusterName == "member2" && !s.Applied && s.AppliedMessage != "" {
				return nil
			}
		}
		return fmt.Errorf("member2's failure not reported: %+v", rb.Status.AggregatedStatus)
	})
}
