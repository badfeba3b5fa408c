package propagation

import (
	"fmt"
	"strings"
	"testing"

	workv1alpha2 "github.com/fleetgate/fleetgate/apis/work/v1alpha2"
	"github.com/fleetgate/fleetgate/test/e2e/framework"
)

const widgetCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
`

// TestCustomResourceMissingOnATarget: a CRD installed in the host and member1 but not member2 is
// rejected at admission naming member2; with --member-dry-run=false it is accepted and the binding
// reports the failure for member2 while member1 gets it.
func TestCustomResourceMissingOnATarget(t *testing.T) {
	ns := namespace(t, "crd-missing")
	framework.Apply(t, gw(), widgetCRD)
	framework.Apply(t, memberKC("member1"), widgetCRD)
	t.Cleanup(func() {
		framework.KubectlResult(t, gw(), "delete", "crd", "widgets.example.com", "--wait=false")
		framework.KubectlResult(t, memberKC("member1"), "delete", "crd", "widgets.example.com", "--wait=false")
	})
	framework.Kubectl(t, gw(), "wait", "--for=condition=Established", "crd/widgets.example.com", "--timeout=30s")
	framework.Kubectl(t, memberKC("member1"), "wait", "--for=condition=Established", "crd/widgets.example.com", "--timeout=30s")
	framework.Apply(t, gw(), fmt.Sprintf(`apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {name: widgets, namespace: %s}
spec:
  resourceSelectors: [{apiVersion: example.com/v1, kind: Widget}]
  placement: {clusterAffinity: {clusterNames: [member1, member2]}}
`, ns))
	widget := func(name string) string {
		return fmt.Sprintf("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: %s, namespace: %s}\nspec: {size: 3}\n", name, ns)
	}
	r := framework.KubectlStdin(t, gw(), widget("w1"), "apply", "-f", "-")
	if r.Err == nil {
		t.Fatalf("a Widget was accepted although member2 does not serve widgets:\n%s", r.Stdout)
	}
	for _, want := range []string{"member2", "widgets.example.com"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("rejection does not name %q: %s", want, r.Stderr)
		}
	}
	if strings.Contains(r.Stderr, "cluster member1") {
		t.Errorf("rejection blames member1: %s", r.Stderr)
	}
	if g := framework.KubectlResult(t, gw(), "-n", ns, "get", "widget", "w1"); g.Err == nil {
		t.Errorf("the rejected Widget was stored in the host")
	}

	// Without member dry-run the write is accepted; the binding tells.
	restartGateway(t, "--member-dry-run=false")
	defer restartGateway(t)
	framework.Apply(t, gw(), widget("w2"))
	waitMember(t, "member1", ns, "widget", "w2", present)
	rb := waitBinding(t, ns, "w2-widget", func(rb *workv1alpha2.ResourceBinding) error {
		if condition(rb, workv1alpha2.FullyApplied) != "False" {
			return fmt.Errorf("FullyApplied %q", condition(rb, workv1alpha2.FullyApplied))
		}
		return nil
	})
	found := false
	for _, s := range rb.Status.AggregatedStatus {
		if s.ClusterName == "member2" && !s.Applied && s.AppliedMessage != "" {
			found = true
		}
		if s.ClusterName == "member1" && !s.Applied {
			t.Errorf("member1 not applied: %+v", s)
		}
	}
	if !found {
		t.Errorf("binding does not report member2's failure: %+v", rb.Status.AggregatedStatus)
	}
}

// restartGateway restarts the gateway with extra flags (none: the environment's defaults).
func restartGateway(t *testing.T, args ...string) {
	t.Helper()
	if err := framework.Env.StopGateway(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := framework.Env.StartGateway(t.Context(), args...); err != nil {
		t.Fatal(err)
	}
	if err := framework.WaitClustersReady(t.Context(), framework.Env, "member1", "member2"); err != nil {
		t.Fatal(err)
	}
}

// TestInvalidPoliciesAreRejectedWithFieldPaths, through the gateway and straight to the host alike.
func TestInvalidPoliciesAreRejectedWithFieldPaths(t *testing.T) {
	ns := namespace(t, "invalid-policies")
	tests := []struct {
		name, spec, field string
	}{
		{"unknown replicaSchedulingType", `resourceSelectors: [{apiVersion: apps/v1, kind: Deployment}]
placement: {replicaScheduling: {replicaSchedulingType: Sometimes}}`, "spec.placement.replicaScheduling.replicaSchedulingType"},
		{"weight 0", `resourceSelectors: [{apiVersion: apps/v1, kind: Deployment}]
placement:
  replicaScheduling:
    replicaSchedulingType: Divided
    weightPreference: {staticWeightList: [{targetCluster: {clusterNames: [member1]}, weight: 0}]}`, "spec.placement.replicaScheduling.weightPreference.staticWeightList[0].weight"},
		{"selector namespace mismatch", `resourceSelectors: [{apiVersion: apps/v1, kind: Deployment, namespace: elsewhere}]`, "spec.resourceSelectors[0].namespace"},
		{"clusterAffinity with clusterAffinities", `resourceSelectors: [{apiVersion: apps/v1, kind: Deployment}]
placement:
  clusterAffinity: {clusterNames: [member1]}
  clusterAffinities: [{affinityName: a, clusterNames: [member2]}]`, "spec.placement.clusterAffinities"},
		{"no selectors", `resourceSelectors: []`, "spec.resourceSelectors"},
	}
	for _, tc := range tests {
		manifest := fmt.Sprintf("apiVersion: policy.karmada.io/v1alpha1\nkind: PropagationPolicy\nmetadata: {name: bad, namespace: %s}\nspec:\n%s\n", ns, indent(tc.spec, "  "))
		for _, via := range []struct{ name, kubeconfig string }{{"gateway", gw()}, {"host", framework.Env.Host.Kubeconfig}} {
			t.Run(tc.name+" via "+via.name, func(t *testing.T) {
				r := framework.KubectlStdin(t, via.kubeconfig, manifest, "apply", "-f", "-")
				if r.Err == nil {
					t.Fatalf("accepted:\n%s", r.Stdout)
				}
				if !strings.Contains(r.Stderr, tc.field) {
					t.Errorf("error does not name %s:\n%s", tc.field, r.Stderr)
				}
			})
		}
	}
}

// TestRejectedWriteLeavesNoTrace: a write that member1 rejects at admission, into a namespace that
// does not go to the members by itself (skip-auto-propagation) and that only member1 has, leaves
// nothing on member2: the member dry-run does not create the namespace there to check the object
// (member2's verdict would come at dispatch; nothing can be in its way in a missing namespace). A
// good write into the same namespace still reaches both members, the namespace created for it.
func TestRejectedWriteLeavesNoTrace(t *testing.T) {
	ns := "no-trace"
	framework.Apply(t, gw(), "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: "+ns+"\n  labels: {namespace.karmada.io/skip-auto-propagation: \"true\"}\n")
	t.Cleanup(func() { framework.KubectlResult(t, gw(), "delete", "namespace", ns, "--wait=false") })
	framework.Apply(t, gw(), pp(ns, "first", "first", "clusterAffinity:\n  clusterNames: [member1]"))
	framework.Kubectl(t, gw(), "-n", ns, "create", "deployment", "first", "--image", "nginx")
	waitMember(t, "member1", ns, "deployment", "first", present) // and so the namespace, in member1 only
	framework.Apply(t, gw(), pp(ns, "both", "", "clusterAffinity:\n  clusterNames: [member1, member2]"))
	framework.Apply(t, gw(), fmt.Sprintf(`apiVersion: policy.karmada.io/v1alpha1
kind: OverridePolicy
metadata: {name: breaks-member1, namespace: %s}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment, name: bad}]
  overrideRules:
  - targetCluster: {clusterNames: [member1]}
    overriders:
      plaintext: [{path: /spec/replicas, operator: replace, value: -5}]
`, ns))
	r := framework.KubectlResult(t, gw(), "-n", ns, "create", "deployment", "bad", "--image", "nginx")
	if r.Err == nil {
		t.Fatal("a Deployment that member1 must reject after overrides was accepted")
	}
	if !strings.Contains(r.Stderr, "member1") || strings.Contains(r.Stderr, "cluster member2") {
		t.Errorf("rejection does not name member1 alone: %s", r.Stderr)
	}
	// The rejection came after the dry-run on both members had finished.
	if u := getMember(t, "member2", "", "namespace", ns); u != nil {
		t.Errorf("the rejected write left namespace %s in member2 (labels %v)", ns, u.GetLabels())
	}
	framework.Kubectl(t, gw(), "-n", ns, "create", "deployment", "good", "--image", "nginx")
	for _, m := range []string{"member1", "member2"} {
		waitMember(t, m, ns, "deployment", "good", present)
	}
}
