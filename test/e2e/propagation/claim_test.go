package propagation

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/test/e2e/framework"
)

// claimOf reads the claim annotations of a ConfigMap template: "pp:<name>", "cpp:<name>" or "".
func claimOf(t *testing.T, ns, name string) string {
	t.Helper()
	out := framework.Kubectl(t, gw(), "-n", ns, "get", "configmap", name, "-o",
		`jsonpath={.metadata.annotations.propagationpolicy\.karmada\.io/name}|{.metadata.annotations.clusterpropagationpolicy\.karmada\.io/name}`)
	pp, cpp, _ := strings.Cut(strings.TrimSpace(out), "|")
	switch {
	case pp != "":
		return "pp:" + pp
	case cpp != "":
		return "cpp:" + cpp
	}
	return ""
}

func waitClaim(t *testing.T, ns, name, want string) {
	t.Helper()
	eventually(t, 30*time.Second, func() error {
		if got := claimOf(t, ns, name); got != want {
			return fmt.Errorf("claim %q, want %q", got, want)
		}
		return nil
	})
}

func cmPolicy(kind, ns, name, selector, extra string) string {
	meta := fmt.Sprintf("{name: %s, namespace: %s}", name, ns)
	if kind == "ClusterPropagationPolicy" {
		meta = fmt.Sprintf("{name: %s}", name)
	}
	return fmt.Sprintf(`apiVersion: policy.karmada.io/v1alpha1
kind: %s
metadata: %s
spec:
  %s
  resourceSelectors: [{apiVersion: v1, kind: ConfigMap, %s}]
  placement: {clusterAffinity: {clusterNames: [member1]}}
`, kind, meta, extra, selector)
}

// TestClaimPrecedence walks Karmada's claim rules end to end on real templates.
func TestClaimPrecedence(t *testing.T) {
	ns := namespace(t, "claims")
	nsSel := "namespace: " + ns
	cpp := func(name, sel, extra string) {
		framework.Apply(t, gw(), cmPolicy("ClusterPropagationPolicy", "", name, sel, extra))
		t.Cleanup(func() { framework.KubectlResult(t, gw(), "delete", "cpp", name) })
	}
	ppol := func(name, sel, extra string) {
		framework.Apply(t, gw(), cmPolicy("PropagationPolicy", ns, name, sel, extra))
	}
	create := func(name, labels string) {
		framework.Apply(t, gw(), fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, namespace: %s, labels: {%s}}\n", name, ns, labels))
	}

	// A PropagationPolicy in the namespace beats every ClusterPropagationPolicy, even one of higher priority.
	cpp("claims-cpp-high", nsSel+", name: a", "priority: 100")
	ppol("pp-low", "name: a", "")
	create("a", "")
	waitClaim(t, ns, "a", "pp:pp-low")

	// Same kind: higher priority wins; then name > labelSelector > match-all; then the smaller name.
	ppol("by-label", "labelSelector: {matchLabels: {tier: b}}", "")
	ppol("by-name", "name: b", "")
	ppol("all-high", "", "priority: 5")
	ppol("zz-all", "", "")
	create("b", "tier: b")
	waitClaim(t, ns, "b", "pp:all-high")
	create("c", "tier: c")
	waitClaim(t, ns, "c", "pp:all-high")
	framework.Kubectl(t, gw(), "-n", ns, "delete", "pp", "all-high")
	// Released by the deleted policy, b goes to the most specific remaining one, c to the alphabetically smaller match-all.
	waitClaim(t, ns, "b", "pp:by-name")
	waitClaim(t, ns, "c", "pp:zz-all")

	// A claim is kept: a new, better policy does not steal it...
	ppol("aa-name-c", "name: c", "priority: 50")
	time.Sleep(2 * time.Second) // give the reconciler the chance it must not take
	if got := claimOf(t, ns, "c"); got != "pp:zz-all" {
		t.Errorf("claim stolen without preemption: %s", got)
	}
	// ...unless it preempts.
	framework.Kubectl(t, gw(), "-n", ns, "patch", "pp", "aa-name-c", "--type=merge", "-p", `{"spec":{"preemption":"Always"}}`)
	waitClaim(t, ns, "c", "pp:aa-name-c")

	// Policies being deleted never claim; with no policy left the object is unclaimed and its copies go.
	for _, p := range []string{"pp-low", "by-label", "by-name", "zz-all", "aa-name-c"} {
		framework.Kubectl(t, gw(), "-n", ns, "delete", "pp", p)
	}
	waitClaim(t, ns, "a", "cpp:claims-cpp-high")
	waitClaim(t, ns, "c", "")
	waitMember(t, "member1", ns, "configmap", "c", absent)
	waitMember(t, "member1", ns, "configmap", "a", present)
}
