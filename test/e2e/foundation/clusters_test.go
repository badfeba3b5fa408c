package foundation

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	"github.com/fleetgate/fleetgate/test/e2e/framework"
)

var clusterHeader = regexp.MustCompile(`(?m)^NAME\s+VERSION\s+MODE\s+READY\s+AGE\s*$`)

func getCluster(t *testing.T, name string) (*clusterv1alpha1.Cluster, error) {
	t.Helper()
	r := framework.KubectlResult(t, framework.Env.GatewayKubeconfig, "get", "cluster", name, "-o", "json")
	if r.Err != nil {
		return nil, fmt.Errorf("%v: %s", r.Err, r.Stderr)
	}
	var c clusterv1alpha1.Cluster
	if err := json.Unmarshal([]byte(r.Stdout), &c); err != nil {
		return nil, err
	}
	return &c, nil
}

func readyStatus(c *clusterv1alpha1.Cluster) string {
	for _, cond := range c.Status.Conditions {
		if cond.Type == clusterv1alpha1.ClusterConditionReady {
			return string(cond.Status)
		}
	}
	return ""
}

func waitReady(t *testing.T, name, want string, timeout time.Duration) *clusterv1alpha1.Cluster {
	t.Helper()
	var c *clusterv1alpha1.Cluster
	framework.Eventually(t, timeout, func() error {
		var err error
		if c, err = getCluster(t, name); err != nil {
			return err
		}
		if got := readyStatus(c); got != want {
			return fmt.Errorf("cluster %s Ready=%q, want %q", name, got, want)
		}
		return nil
	})
	return c
}

func TestGetClustersShowsPushMemberReady(t *testing.T) {
	waitReady(t, "member1", "True", 30*time.Second)
	out := framework.Kubectl(t, framework.Env.GatewayKubeconfig, "get", "clusters")
	if !clusterHeader.MatchString(out) {
		t.Errorf("kubectl get clusters: no NAME VERSION MODE READY AGE header:\n%s", out)
	}
	if !regexp.MustCompile(`(?m)^member1\s+v1\.37\.2\s+Push\s+True\s+\S+\s*$`).MatchString(out) {
		t.Errorf("kubectl get clusters: no `member1  v1.37.2  Push  True` row:\n%s", out)
	}
	wide := framework.Kubectl(t, framework.Env.GatewayKubeconfig, "get", "clusters", "-o", "wide")
	if !strings.Contains(wide, "API-ENDPOINT") || !strings.Contains(wide, framework.Env.Member("member1").Server) {
		t.Errorf("kubectl get clusters -o wide lacks the API endpoint:\n%s", wide)
	}
}

func TestClusterStatusDescribesTheMember(t *testing.T) {
	c := waitReady(t, "member1", "True", 30*time.Second)
	if c.Status.KubernetesVersion != "v1.37.2" {
		t.Errorf("kubernetesVersion %q, want v1.37.2", c.Status.KubernetesVersion)
	}
	found := false
	for _, e := range c.Status.APIEnablements {
		if e.GroupVersion != "apps/v1" {
			continue
		}
		for _, r := range e.Resources {
			found = found || (r.Name == "deployments" && r.Kind == "Deployment")
		}
	}
	if !found {
		t.Errorf("apiEnablements lack apps/v1 deployments: %+v", c.Status.APIEnablements)
	}
	if c.Status.NodeSummary == nil {
		t.Errorf("nodeSummary missing")
	}
	if c.Spec.SyncMode != clusterv1alpha1.Push || c.Spec.SecretRef == nil || c.Spec.ImpersonatorSecretRef == nil {
		t.Errorf("spec %+v: want Push with both secret references", c.Spec)
	}
}

// TestClusterHealthFollowsTheMemberAPIServer kills member1's apiserver: Ready must turn False (with
// the not-ready taint) within 30 s, and True again after a restart.
func TestClusterHealthFollowsTheMemberAPIServer(t *testing.T) {
	m := framework.Env.Member("member1")
	waitReady(t, "member1", "True", 30*time.Second)
	if err := m.StopAPIServer(t.Context()); err != nil {
		t.Fatal(err)
	}
	restarted := false
	defer func() {
		if !restarted {
			_ = m.StartAPIServer(t.Context())
		}
	}()
	c := waitReady(t, "member1", "False", 30*time.Second)
	if !hasNotReadyTaint(c) {
		framework.Eventually(t, 10*time.Second, func() error {
			c, err := getCluster(t, "member1")
			if err != nil {
				return err
			}
			if !hasNotReadyTaint(c) {
				return fmt.Errorf("no %s taint: %+v", clusterv1alpha1.TaintClusterNotReady, c.Spec.Taints)
			}
			return nil
		})
	}
	out := framework.Kubectl(t, framework.Env.GatewayKubeconfig, "get", "clusters")
	if !regexp.MustCompile(`(?m)^member1\s+v1\.37\.2\s+Push\s+False\s`).MatchString(out) {
		t.Errorf("kubectl get clusters while member1 is down:\n%s", out)
	}
	if err := m.StartAPIServer(t.Context()); err != nil {
		t.Fatal(err)
	}
	restarted = true
	c = waitReady(t, "member1", "True", 30*time.Second)
	framework.Eventually(t, 10*time.Second, func() error {
		c, err := getCluster(t, "member1")
		if err != nil {
			return err
		}
		if hasNotReadyTaint(c) {
			return fmt.Errorf("not-ready taint still there")
		}
		return nil
	})
}

func hasNotReadyTaint(c *clusterv1alpha1.Cluster) bool {
	for _, t := range c.Spec.Taints {
		if t.Key == clusterv1alpha1.TaintClusterNotReady {
			return true
		}
	}
	return false
}
