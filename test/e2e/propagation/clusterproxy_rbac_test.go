package propagation

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/certs"
	"github.com/fleetgate/fleetgate/test/e2e/framework"
)

// TestClusterProxy: /clusters/{name}/… and Karmada's …/clusters/{name}/proxy/… reach the member
// as the caller, for member1 (Push) and member2 (Pull: the agent impersonates the caller). Without
// clusters/proxy on that Cluster in the host the caller gets 403; with it, the member's own RBAC
// decides (a member Role lets the caller list pods in one namespace only).
func TestClusterProxy(t *testing.T) {
	for _, c := range []struct{ name, other string }{{"member1", "member2"}, {"member2", "member1"}} {
		t.Run(c.name, func(t *testing.T) { testClusterProxyRBAC(t, c.name, c.other) })
	}
}

func testClusterProxyRBAC(t *testing.T, cluster, other string) {
	admin := framework.Env.GatewayKubeconfig
	member := framework.Env.Member(cluster).Kubeconfig
	ns, memberNS := "e2e-cproxy-"+cluster, "cproxy-allowed"
	framework.Kubectl(t, admin, "create", "namespace", ns)
	t.Cleanup(func() { framework.KubectlResult(t, admin, "delete", "namespace", ns, "--wait=false") })
	framework.Kubectl(t, admin, "-n", ns, "create", "serviceaccount", "viewer")
	token := strings.TrimSpace(framework.Kubectl(t, admin, "-n", ns, "create", "token", "viewer"))
	kc := filepath.Join(t.TempDir(), "viewer.kubeconfig")
	if err := (certs.Kubeconfig{Name: "viewer", Server: framework.Env.GatewayURL, CAPEM: framework.Env.GatewayConfig.CAData, Token: token}).Write(kc); err != nil {
		t.Fatal(err)
	}
	user := "system:serviceaccount:" + ns + ":viewer"
	native := framework.Env.GatewayURL + "/clusters/" + cluster
	karmada := framework.Env.GatewayURL + "/apis/cluster.karmada.io/v1alpha1/clusters/" + cluster + "/proxy"

	// The admin reaches the member as itself (system:masters there too).
	if out := framework.Kubectl(t, admin, "--server", native, "get", "namespace", "kube-system", "-o", "name"); !strings.Contains(out, "namespace/kube-system") {
		t.Errorf("admin through the cluster proxy: %q", out)
	}
	// Without clusters/proxy in the host: 403 from the gateway, on both paths. (--raw: kubectl's
	// discovery prints any 403 as "Forbidden: unknown", as it does against kube-apiserver.)
	for _, server := range []string{native, karmada} {
		r := framework.KubectlResult(t, kc, "--server", server, "get", "--raw", "/api/v1/namespaces/"+memberNS+"/pods")
		if r.Err == nil || !strings.Contains(r.Stderr, "clusters/proxy") {
			t.Errorf("%s without clusters/proxy: want Forbidden naming clusters/proxy, got %v\n%s%s", server, r.Err, r.Stdout, r.Stderr)
		}
	}
	framework.Kubectl(t, admin, "create", "clusterrole", "e2e-proxy-"+cluster, "--verb=get,create,update,patch,delete",
		"--resource=clusters.cluster.karmada.io/proxy", "--resource-name="+cluster)
	t.Cleanup(func() { framework.KubectlResult(t, admin, "delete", "clusterrole", "e2e-proxy-"+cluster) })
	framework.Kubectl(t, admin, "create", "clusterrolebinding", "e2e-proxy-"+cluster, "--clusterrole=e2e-proxy-"+cluster, "--serviceaccount="+ns+":viewer")
	t.Cleanup(func() { framework.KubectlResult(t, admin, "delete", "clusterrolebinding", "e2e-proxy-"+cluster) })

	// With it, the member's RBAC applies: nothing yet, then one namespace's pods.
	framework.Eventually(t, 30*time.Second, func() error {
		r := framework.KubectlResult(t, kc, "--server", native, "-n", memberNS, "get", "pods")
		if r.Err == nil || !strings.Contains(r.Stderr, `User "`+user+`" cannot list resource "pods"`) {
			return cmdError(r)
		}
		return nil
	})
	framework.Kubectl(t, member, "create", "namespace", memberNS)
	t.Cleanup(func() { framework.KubectlResult(t, member, "delete", "namespace", memberNS, "--wait=false") })
	framework.Kubectl(t, member, "-n", memberNS, "create", "role", "list-pods", "--verb=get,list", "--resource=pods")
	framework.Kubectl(t, member, "-n", memberNS, "create", "rolebinding", "list-pods", "--role=list-pods", "--user="+user)
	for _, server := range []string{native, karmada} {
		framework.Eventually(t, 30*time.Second, func() error {
			if r := framework.KubectlResult(t, kc, "--server", server, "-n", memberNS, "get", "pods"); r.Err != nil {
				return cmdError(r)
			}
			return nil
		})
	}
	if r := framework.KubectlResult(t, kc, "--server", native, "-n", "default", "get", "pods"); r.Err == nil || !strings.Contains(r.Stderr, "Forbidden") {
		t.Errorf("pods of another member namespace: want the member's Forbidden, got %v %s", r.Err, r.Stderr)
	}
	// A cluster the caller has no clusters/proxy for, and one that does not exist.
	if r := framework.KubectlResult(t, kc, "--server", framework.Env.GatewayURL+"/clusters/"+other, "get", "--raw", "/api/v1/pods"); r.Err == nil || !strings.Contains(r.Stderr, "clusters/proxy") {
		t.Errorf("%s (not granted): want Forbidden, got %v %s", other, r.Err, r.Stderr)
	}
	if r := framework.KubectlResult(t, admin, "--server", framework.Env.GatewayURL+"/clusters/nowhere", "get", "--raw", "/api/v1/pods"); r.Err == nil || !strings.Contains(r.Stderr, "nowhere") {
		t.Errorf("unknown cluster: want an error naming it, got %v %s", r.Err, r.Stderr)
	}
}

// cmdError is a failed command as an error, for Eventually.
func cmdError(r framework.Result) error { return fmt.Errorf("%v: %s", r.Err, r.Stderr) }
