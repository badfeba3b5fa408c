package propagation

import (
	"fmt"
	"testing"

	"github.com/fleetgate/fleetgate/test/e2e/framework"
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
			// Delete right away: these pods hold CPU that later cases divide by.
			framework.Kubectl(t, gw(), "-n", ns, "delete", "deployment", name, "--wait=true", "--timeout=60s")
		})
	}
}
