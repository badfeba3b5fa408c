package propagation

import (
	"fmt"
	"testing"

	workv1alpha2 "github.com/fleetgate/fleetgate/apis/work/v1alpha2"
	"github.com/fleetgate/fleetgate/test/e2e/framework"
)

// labelCluster sets labels/fields on a Cluster for a test and restores them afterwards.
func patchCluster(t *testing.T, name, patch, undo string) {
	t.Helper()
	framework.Kubectl(t, gw(), "patch", "cluster", name, "--type=merge", "-p", patch)
	t.Cleanup(func() { framework.KubectlResult(t, gw(), "patch", "cluster", name, "--type=merge", "-p", undo) })
}

// TestPlacementFeatures: each clusterAffinity filter, clusterAffinities fallback, taints and
// tolerations, and spread constraints decide the targets of a real template.
func TestPlacementFeatures(t *testing.T) {
	ns := namespace(t, "placement")
	patchCluster(t, "member1", `{"metadata":{"labels":{"env":"prod"}},"spec":{"provider":"acme","region":"eu","zone":"eu-1"}}`,
		`{"metadata":{"labels":{"env":null}},"spec":{"provider":null,"region":null,"zone":null}}`)
	patchCluster(t, "member2", `{"metadata":{"labels":{"env":"dev"}},"spec":{"provider":"acme","region":"us","zone":"us-1"}}`,
		`{"metadata":{"labels":{"env":null}},"spec":{"provider":null,"region":null,"zone":null}}`)
	tests := []struct {
		name, placement, want string
	}{
		{"clusterNames", "clusterAffinity: {clusterNames: [member2]}", "member2=1"},
		{"exclude", "clusterAffinity: {exclude: [member1]}", "member2=1"},
		{"labelSelector", "clusterAffinity: {labelSelector: {matchLabels: {env: prod}}}", "member1=1"},
		{"fieldSelector region", "clusterAffinity: {fieldSelector: {matchExpressions: [{key: region, operator: In, values: [us]}]}}", "member2=1"},
		{"fieldSelector provider and exclude", "clusterAffinity: {exclude: [member2], fieldSelector: {matchExpressions: [{key: provider, operator: In, values: [acme]}]}}", "member1=1"},
		{"empty affinity is every cluster", "clusterAffinity: {}", "member1=1,member2=1"},
		{"clusterAffinities falls back", `clusterAffinities:
- affinityName: nowhere
  clusterNames: [member9]
- affinityName: dev
  labelSelector: {matchLabels: {env: dev}}`, "member2=1"},
		{"spread by cluster with maxGroups 1 picks one cluster", `clusterAffinity: {clusterNames: [member1, member2]}
spreadConstraints:
- {spreadByField: cluster, maxGroups: 1, minGroups: 1}`, ""},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := fmt.Sprintf("p%d", i)
			framework.Apply(t, gw(), pp(ns, name, name, tc.placement))
			framework.Kubectl(t, gw(), "-n", ns, "create", "deployment", name, "--image", "nginx")
			rb := waitBinding(t, ns, name+"-deployment", func(rbx *workv1alpha2.ResourceBinding) error {
				if len(rbx.Spec.Clusters) == 0 {
					return fmt.Errorf("not scheduled yet")
				}
				return nil
			})
			got := targets(rb)
			if tc.want != "" && got != tc.want {
				t.Errorf("targets %q, want %q", got, tc.want)
			}
			if tc.want == "" && len(rb.Spec.Clusters) != 1 {
				t.Errorf("maxGroups 1: targets %q", got)
			}
			for _, c := range rb.Spec.Clusters {
				waitMember(t, c.Name, ns, "deployment", name, present)
			}
		})
	}
}

// TestTaintsAndTolerations: a NoSchedule taint keeps new placements off; a toleration lets them on;
// NoExecute removes existing placements.
func TestTaintsAndTolerations(t *testing.T) {
	ns := namespace(t, "taints")
	patchCluster(t, "member2", `{"spec":{"taints":[{"key":"dedicated","value":"gpu","effect":"NoSchedule"}]}}`, `{"spec":{"taints":null}}`)
	framework.Apply(t, gw(), pp(ns, "plain", "plain", "clusterAffinity: {clusterNames: [member1, member2]}"))
	framework.Apply(t, gw(), pp(ns, "tolerant", "tolerant", `clusterAffinity: {clusterNames: [member1, member2]}
clusterTolerations:
- {key: dedicated, operator: Equal, value: gpu, effect: NoSchedule}`))
	framework.Kubectl(t, gw(), "-n", ns, "create", "deployment", "plain", "--image", "nginx")
	framework.Kubectl(t, gw(), "-n", ns, "create", "deployment", "tolerant", "--image", "nginx")
	waitBinding(t, ns, "plain-deployment", wantTargets("member1=1"))
	waitBinding(t, ns, "tolerant-deployment", wantTargets("member1=1,member2=1"))
	// NoExecute evicts the untolerated copy that is already there.
	framework.Kubectl(t, gw(), "patch", "cluster", "member2", "--type=merge", "-p", `{"spec":{"taints":[{"key":"dedicated","value":"gpu","effect":"NoExecute"}]}}`)
	waitBinding(t, ns, "tolerant-deployment", wantTargets("member1=1"))
	waitMember(t, "member2", ns, "deployment", "tolerant", absent)
}
