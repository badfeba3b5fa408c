package propagation

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/test/e2e/framework"
	"k8s.io/apimachinery/pkg/api/resource"
)

// deployment is a Deployment manifest whose pods request cpu each.
func deployment(ns, name string, replicas int, cpu string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %[2]s, namespace: %[1]s, labels: {app: %[2]s}}
spec:
  replicas: %[3]d
  selector: {matchLabels: {app: %[2]s}}
  template:
    metadata: {labels: {app: %[2]s}}
    spec:
      containers:
      - name: app
        image: nginx
        resources: {requests: {cpu: %[4]q}}
`, ns, name, replicas, cpu)
}

// TestReplicaDivision: Duplicated, static weights, dynamic weights from the kwok nodes' allocatable
// (member1 has 4 CPUs, member2 8), and Aggregated.
func TestReplicaDivision(t *testing.T) {
	ns := namespace(t, "division")
	tests := []struct {
		name, scheduling string
		replicas         int
		cpu, want        string
	}{
		{"duplicated", "", 3, "100m", "member1=3,member2=3"},
		{"weighted without weights is even", "replicaScheduling: {replicaSchedulingType: Divided}", 4, "100m", "member1=2,member2=2"},
		{"static weights", `replicaScheduling:
  replicaSchedulingType: Divided
  replicaDivisionPreference: Weighted
  weightPreference:
    staticWeightList:
    - {targetCluster: {clusterNames: [member1]}, weight: 1}
    - {targetCluster: {clusterNames: [member2]}, weight: 2}`, 3, "100m", "member1=1,member2=2"},
		{"dynamic weights by available replicas", `replicaScheduling:
  replicaSchedulingType: Divided
  replicaDivisionPreference: Weighted
  weightPreference: {dynamicWeight: AvailableReplicas}`, 6, "1", "member1=2,member2=4"},
		{"aggregated", `replicaScheduling:
  replicaSchedulingType: Divided
  replicaDivisionPreference: Aggregated`, 3, "1", "member2=3"},
	}
	baseline := allocatedCPU(t)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := fmt.Sprintf("d%d", i)
			placement := "clusterAffinity: {clusterNames: [member1, member2]}"
			if tc.scheduling != "" {
				placement += "\n" + tc.scheduling
			}
			framework.Apply(t, gw(), pp(ns, name, name, placement))
			framework.Apply(t, gw(), deployment(ns, name, tc.replicas, tc.cpu))
			waitBinding(t, ns, name+"-deployment", wantTargets(tc.want))
			// Delete right away: these pods hold CPU that later cases divide by. The next case
			// starts once both clusters report no more CPU allocated than before the first case
			// (the division reads the clusters' resource summaries, which a member's pod deletions
			// reach a probe later).
			framework.Kubectl(t, gw(), "-n", ns, "delete", "deployment", name, "--wait=true", "--timeout=60s")
			eventually(t, time.Minute, func() error {
				now := allocatedCPU(t)
				for cl, q := range now {
					if base := baseline[cl]; q.Cmp(base) > 0 {
						return fmt.Errorf("cluster %s reports %s CPU allocated, %s before the first case", cl, q.String(), base.String())
					}
				}
				return nil
			})
		})
	}
}

// allocatedCPU is the CPU each member's resource summary reports allocated.
func allocatedCPU(t *testing.T) map[string]resource.Quantity {
	t.Helper()
	out := framework.Kubectl(t, gw(), "get", "clusters", "member1", "member2",
		"-o", `jsonpath={range .items[*]}{.metadata.name}={.status.resourceSummary.allocated.cpu} {end}`)
	m := map[string]resource.Quantity{}
	for _, f := range strings.Fields(out) {
		name, v, _ := strings.Cut(f, "=")
		q, err := resource.ParseQuantity(v)
		if v == "" || err != nil {
			q = resource.Quantity{}
		}
		m[name] = q
	}
	return m
}
