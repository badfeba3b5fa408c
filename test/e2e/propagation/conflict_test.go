package propagation

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	workv1alpha2 "github.com/fleetgate/fleetgate/apis/work/v1alpha2"
	"github.com/fleetgate/fleetgate/test/e2e/framework"
)

// TestConflictResolution: Abort leaves a pre-existing unmanaged member object alone and reports it;
// Overwrite takes it over.
func TestConflictResolution(t *testing.T) {
	ns := namespace(t, "conflicts")
	waitMember(t, "member1", "", "namespace", ns, present)
	for _, name := range []string{"keep", "take"} {
		framework.Kubectl(t, memberKC("member1"), "-n", ns, "create", "configmap", name, "--from-literal=owner=member")
	}
	framework.Apply(t, gw(), fmt.Sprintf(`apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {name: abort, namespace: %[1]s}
spec:
  resourceSelectors: [{apiVersion: v1, kind: ConfigMap, name: keep}]
  placement: {clusterAffinity: {clusterNames: [member1]}}
---
apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {name: overwrite, namespace: %[1]s}
spec:
  conflictResolution: Overwrite
  resourceSelectors: [{apiVersion: v1, kind: ConfigMap, name: take}]
  placement: {clusterAffinity: {clusterNames: [member1]}}
`, ns))
	framework.Kubectl(t, gw(), "-n", ns, "create", "configmap", "keep", "--from-literal=owner=fleet")
	framework.Kubectl(t, gw(), "-n", ns, "create", "configmap", "take", "--from-literal=owner=fleet")
	waitMember(t, "member1", ns, "configmap", "take", func(u *unstructured.Unstructured) error {
		if v, _, _ := unstructured.NestedString(u.Object, "data", "owner"); v != "fleet" || u.GetLabels()["fleetgate.io/managed"] != "true" {
			return fmt.Errorf("not taken over: %v %v", u.Object["data"], u.GetLabels())
		}
		return nil
	})
	waitBinding(t, ns, "keep-configmap", func(rb *workv1alpha2.ResourceBinding) error {
		for _, s := range rb.Status.AggregatedStatus {
			if s.ClusterName == "member1" && !s.Applied && strings.Contains(s.AppliedMessage, "not managed by fleetgate") {
				return nil
			}
		}
		return fmt.Errorf("conflict not reported: %+v", rb.Status.AggregatedStatus)
	})
	kept := getMember(t, "member1", ns, "configmap", "keep")
	if v, _, _ := unstructured.NestedString(kept.Object, "data", "owner"); v != "member" || kept.GetLabels()["fleetgate.io/managed"] != "" {
		t.Errorf("Abort touched the member's own object: %v %v", kept.Object["data"], kept.GetLabels())
	}
	ev := framework.Kubectl(t, gw(), "-n", ns, "get", "events", "--field-selector", "involvedObject.name=keep", "-o", "jsonpath={range .items[*]}{.type} {.reason} {.message}{\"\\n\"}{end}")
	if !strings.Contains(ev, "member1") {
		t.Errorf("no event names member1 for the conflict:\n%s", ev)
	}
}

// TestPropagateDepsCarriesConfigMapAndSecret: with propagateDeps the Deployment's ConfigMap and
// Secret follow it, without a policy of their own.
func TestPropagateDepsCarriesConfigMapAndSecret(t *testing.T) {
	ns := namespace(t, "deps")
	framework.Apply(t, gw(), fmt.Sprintf(`apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {name: app, namespace: %[1]s}
spec:
  propagateDeps: true
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment, name: app}]
  placement: {clusterAffinity: {clusterNames: [member2]}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: app-config, namespace: %[1]s}
data: {mode: fast}
---
apiVersion: v1
kind: Secret
metadata: {name: app-secret, namespace: %[1]s}
stringData: {password: hunter2}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: app, namespace: %[1]s}
spec:
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      containers:
      - name: app
        image: nginx
        envFrom: [{configMapRef: {name: app-config}}]
        volumeMounts: [{name: s, mountPath: /s}]
      volumes: [{name: s, secret: {secretName: app-secret}}]
`, ns))
	waitMember(t, "member2", ns, "deployment", "app", present)
	waitMember(t, "member2", ns, "configmap", "app-config", present)
	waitMember(t, "member2", ns, "secret", "app-secret", present)
	if getMember(t, "member1", ns, "configmap", "app-config") != nil {
		t.Error("the dependency went to a cluster the workload is not on")
	}
}

// TestNamespacesAreCreatedOnMembers, unless they opt out.
func TestNamespacesAreCreatedOnMembers(t *testing.T) {
	ns := namespace(t, "ns-auto")
	for _, m := range []string{"member1", "member2"} {
		waitMember(t, m, "", "namespace", ns, present)
	}
	framework.Apply(t, gw(), "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns-skip\n  labels: {namespace.karmada.io/skip-auto-propagation: \"true\"}\n")
	t.Cleanup(func() { framework.KubectlResult(t, gw(), "delete", "namespace", "ns-skip", "--wait=false") })
	framework.Kubectl(t, gw(), "create", "namespace", "ns-later")
	t.Cleanup(func() { framework.KubectlResult(t, gw(), "delete", "namespace", "ns-later", "--wait=false") })
	waitMember(t, "member1", "", "namespace", "ns-later", present) // ordering: ns-skip was seen before
	if getMember(t, "member1", "", "namespace", "ns-skip") != nil {
		t.Error("a namespace labelled skip-auto-propagation was propagated")
	}
}
