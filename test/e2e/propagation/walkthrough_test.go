package propagation

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	workv1alpha2 "github.com/fleetgate/fleetgate/apis/work/v1alpha2"
	"github.com/fleetgate/fleetgate/test/e2e/framework"
)

// TestWalkthroughStep3 is WALKTHROUGH.md step 3 with the cluster names of this environment: when
// `kubectl create deployment` returns, both members already have nginx with one replica.
func TestWalkthroughStep3(t *testing.T) {
	ns := namespace(t, "walkthrough")
	framework.Apply(t, gw(), fmt.Sprintf(`apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata:
  name: example-policy
  namespace: %s
spec:
  resourceSelectors:
    - apiVersion: apps/v1
      kind: Deployment
      name: nginx
  placement:
    clusterAffinity:
      clusterNames:
        - member1
        - member2
`, ns))
	framework.Kubectl(t, gw(), "-n", ns, "create", "deployment", "nginx", "--image", "nginx")
	// No waiting: dispatch wrote them before the create returned.
	for _, m := range []string{"member1", "member2"} {
		d := getMember(t, m, ns, "deployment", "nginx")
		if err := replicas(1)(d); err != nil {
			t.Errorf("%s right after create: %v", m, err)
			continue
		}
		if image(d) != "nginx" || d.GetLabels()["fleetgate.io/managed"] != "true" {
			t.Errorf("%s: image %q labels %v", m, image(d), d.GetLabels())
		}
	}
	rb := waitBinding(t, ns, "nginx-deployment", func(rb *workv1alpha2.ResourceBinding) error {
		if condition(rb, workv1alpha2.Scheduled) != "True" || condition(rb, workv1alpha2.FullyApplied) != "True" {
			return fmt.Errorf("conditions %+v", rb.Status.Conditions)
		}
		return nil
	})
	if got := targets(rb); got != "member1=1,member2=1" {
		t.Errorf("binding targets %q", got)
	}
	out := framework.Kubectl(t, gw(), "-n", ns, "get", "rb")
	if !regexp.MustCompile(`(?m)^nginx-deployment\s+True\s+True\s`).MatchString(out) {
		t.Errorf("kubectl get rb:\n%s", out)
	}
	// The template records its claim and carries the finalizer.
	tmpl := framework.Kubectl(t, gw(), "-n", ns, "get", "deployment", "nginx", "-o", "jsonpath={.metadata.annotations.propagationpolicy\\.karmada\\.io/name} {.metadata.finalizers}")
	if !strings.Contains(tmpl, "example-policy") || !strings.Contains(tmpl, "fleetgate.io/propagation") {
		t.Errorf("template claim/finalizer: %q", tmpl)
	}
	// The pods really run on the members.
	for _, m := range []string{"member1", "member2"} {
		waitMember(t, m, ns, "deployment", "nginx", func(u *unstructured.Unstructured) error {
			if r, _, _ := unstructured.NestedInt64(u.Object, "status", "readyReplicas"); r != 1 {
				return fmt.Errorf("readyReplicas %d", r)
			}
			return nil
		})
	}
	// Through the gateway the template shows the members' status summed: 2/1.
	eventually(t, time.Minute, func() error {
		out := framework.Kubectl(t, gw(), "-n", ns, "get", "deploy", "nginx", "--no-headers")
		if !regexp.MustCompile(`^nginx\s+2/1\s+2\s+2\s`).MatchString(out) {
			return fmt.Errorf("kubectl get deploy: %q, want nginx 2/1 2 2", out)
		}
		return nil
	})
	framework.Kubectl(t, gw(), "-n", ns, "rollout", "status", "deploy/nginx", "--timeout=60s")
	framework.Kubectl(t, gw(), "-n", ns, "wait", "--for=condition=Available", "deploy/nginx", "--timeout=60s")
	// After set image, rollout status returns only once both members rolled out.
	framework.Kubectl(t, gw(), "-n", ns, "set", "image", "deploy/nginx", "nginx=nginx:1.27")
	framework.Kubectl(t, gw(), "-n", ns, "rollout", "status", "deploy/nginx", "--timeout=90s")
	for _, m := range []string{"member1", "member2"} {
		d := getMember(t, m, ns, "deployment", "nginx")
		observed, _, _ := unstructured.NestedInt64(d.Object, "status", "observedGeneration")
		updated, _, _ := unstructured.NestedInt64(d.Object, "status", "updatedReplicas")
		if image(d) != "nginx:1.27" || observed < d.GetGeneration() || updated != 1 {
			t.Errorf("%s when rollout status returned: image %q observedGeneration %d/%d updatedReplicas %d",
				m, image(d), observed, d.GetGeneration(), updated)
		}
	}
	// The members' ReplicaSets are seen through the gateway as controlled by the template: describe
	// names the new one, rollout history lists both revisions.
	eventually(t, 30*time.Second, func() error {
		out := framework.Kubectl(t, gw(), "-n", ns, "describe", "deploy", "nginx")
		if !regexp.MustCompile(`(?m)^NewReplicaSet:\s+nginx-[a-z0-9]+ \(1/1 replicas created\)`).MatchString(out) {
			return fmt.Errorf("kubectl describe deploy nginx names no NewReplicaSet:\n%s", out)
		}
		return nil
	})
	history := framework.Kubectl(t, gw(), "-n", ns, "rollout", "history", "deploy/nginx")
	if !regexp.MustCompile(`(?m)^1\s`).MatchString(history) || !regexp.MustCompile(`(?m)^2\s`).MatchString(history) {
		t.Errorf("kubectl rollout history deploy/nginx lists no revisions 1 and 2:\n%s", history)
	}
	// kubectl get deploy -w shows the change when the members' replicas change.
	w := startWatch(t, gw(), "-n", ns, "get", "deploy", "nginx", "-w")
	w.await(t, "nginx ")
	framework.Kubectl(t, gw(), "-n", ns, "scale", "deploy/nginx", "--replicas", "2")
	w.awaitMatch(t, regexp.MustCompile(`^nginx\s+4/2\s+4\s+4\s`))
}

// TestUpdatesFlowToMembers: set image, scale (re-divided), and deletion removing member copies.
func TestUpdatesFlowToMembers(t *testing.T) {
	ns := namespace(t, "updates")
	framework.Apply(t, gw(), pp(ns, "divided", "web", `clusterAffinity:
  clusterNames: [member1, member2]
replicaScheduling:
  replicaSchedulingType: Divided
  replicaDivisionPreference: Weighted
  weightPreference:
    staticWeightList:
    - targetCluster: {clusterNames: [member1]}
      weight: 1
    - targetCluster: {clusterNames: [member2]}
      weight: 2`))
	framework.Kubectl(t, gw(), "-n", ns, "create", "deployment", "web", "--image", "nginx", "--replicas", "3")
	if err := replicas(1)(getMember(t, "member1", ns, "deployment", "web")); err != nil {
		t.Errorf("member1: %v", err)
	}
	if err := replicas(2)(getMember(t, "member2", ns, "deployment", "web")); err != nil {
		t.Errorf("member2: %v", err)
	}
	framework.Kubectl(t, gw(), "-n", ns, "set", "image", "deployment/web", "nginx=nginx:1.27")
	for _, m := range []string{"member1", "member2"} {
		if d := getMember(t, m, ns, "deployment", "web"); d == nil || image(d) != "nginx:1.27" {
			t.Errorf("%s after set image: %v", m, d)
		}
	}
	framework.Kubectl(t, gw(), "-n", ns, "scale", "deployment/web", "--replicas", "6")
	waitMember(t, "member1", ns, "deployment", "web", replicas(2))
	waitMember(t, "member2", ns, "deployment", "web", replicas(4))
	waitBinding(t, ns, "web-deployment", wantTargets("member1=2,member2=4"))

	framework.Kubectl(t, gw(), "-n", ns, "delete", "deployment", "web", "--wait=true", "--timeout=60s")
	for _, m := range []string{"member1", "member2"} {
		waitMember(t, m, ns, "deployment", "web", absent)
	}
	eventually(t, 30e9, func() error {
		if _, err := binding(t, ns, "web-deployment"); err == nil {
			return fmt.Errorf("binding still there")
		}
		return nil
	})
}

// TestPolicyChangesMoveTemplates: a policy edit that drops a cluster deletes its copy; a label change
// that makes another policy match moves the template.
func TestPolicyChangesMoveTemplates(t *testing.T) {
	ns := namespace(t, "policy-changes")
	framework.Apply(t, gw(), pp(ns, "both", "api", "clusterAffinity:\n  clusterNames: [member1, member2]"))
	framework.Kubectl(t, gw(), "-n", ns, "create", "deployment", "api", "--image", "nginx")
	waitMember(t, "member2", ns, "deployment", "api", present)
	framework.Apply(t, gw(), pp(ns, "both", "api", "clusterAffinity:\n  clusterNames: [member1]"))
	waitMember(t, "member2", ns, "deployment", "api", absent)
	waitMember(t, "member1", ns, "deployment", "api", present)
	waitBinding(t, ns, "api-deployment", wantTargets("member1=1"))

	// A second deployment claimed by a label-selecting policy; relabelling moves it to a policy that
	// selects by name... here: from tier=a (member1) to tier=b (member2).
	framework.Apply(t, gw(), fmt.Sprintf(`apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {name: tier-a, namespace: %[1]s}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment, labelSelector: {matchLabels: {tier: a}}}]
  placement: {clusterAffinity: {clusterNames: [member1]}}
---
apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {name: tier-b, namespace: %[1]s}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment, labelSelector: {matchLabels: {tier: b}}}]
  placement: {clusterAffinity: {clusterNames: [member2]}}
`, ns))
	framework.Kubectl(t, gw(), "-n", ns, "create", "deployment", "tiered", "--image", "nginx")
	framework.Kubectl(t, gw(), "-n", ns, "label", "deployment", "tiered", "tier=a")
	waitMember(t, "member1", ns, "deployment", "tiered", present)
	// The claim is sticky: relabelling alone does not move it while tier-a still exists...
	framework.Kubectl(t, gw(), "-n", ns, "label", "deployment", "tiered", "tier=b", "--overwrite")
	// ...but tier-a no longer matches, so the object is released and tier-b claims it.
	waitMember(t, "member2", ns, "deployment", "tiered", present)
	waitMember(t, "member1", ns, "deployment", "tiered", absent)
}

// TestWalkthroughStep2: `kubectl get clusters` shows each member with its mode and Ready, as the
// WALKTHROUGH's step 2 does: member1 Push True, and member2 Pull True when this run registered it
// in Pull mode (token create --print-register-command, register, agent; see TestMain).
func TestWalkthroughStep2(t *testing.T) {
	want := map[string]string{"member1": "Push", "member2": "Push"}
	if framework.Env.Member("member2").Pull() {
		want["member2"] = "Pull"
	}
	out := framework.Kubectl(t, gw(), "get", "clusters")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) == 0 || strings.Join(strings.Fields(lines[0]), " ") != "NAME VERSION MODE READY AGE" {
		t.Fatalf("get clusters header:\n%s", out)
	}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if mode, ok := want[f[0]]; ok {
			if len(f) != 5 || f[2] != mode || f[3] != "True" || !strings.HasPrefix(f[1], "v1.") {
				t.Errorf("get clusters row %q, want %s <version> %s True <age>", l, f[0], mode)
			}
			delete(want, f[0])
		}
	}
	if len(want) > 0 {
		t.Errorf("get clusters lacks %v:\n%s", want, out)
	}
}
