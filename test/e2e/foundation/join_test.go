package foundation

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/fleetgate/fleetgate/test/e2e/framework"
)

// assertNothingLeft checks that no Cluster and no credential Secret of name exist in the host.
func assertNothingLeft(t *testing.T, name string) {
	t.Helper()
	kc := framework.Env.GatewayKubeconfig
	if r := framework.KubectlResult(t, kc, "get", "cluster", name); r.Err == nil {
		t.Errorf("cluster %s exists after a failed join", name)
	}
	out := framework.Kubectl(t, kc, "-n", "fleetgate-system", "get", "secrets", "-o", "name")
	for _, s := range []string{"secret/" + name + "\n", "secret/" + name + "-impersonator\n"} {
		if strings.Contains(out, s) {
			t.Errorf("%s left in fleetgate-system after a failed join", strings.TrimSpace(s))
		}
	}
}

// memberKubeconfigWith writes a copy of member2's kubeconfig changed by edit.
func memberKubeconfigWith(t *testing.T, edit func(server *string, token *string, cert *[]byte)) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(framework.Env.Member("member2").Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	ctx := cfg.Contexts[cfg.CurrentContext]
	cl, au := cfg.Clusters[ctx.Cluster], cfg.AuthInfos[ctx.AuthInfo]
	edit(&cl.Server, &au.Token, &au.ClientCertificateData)
	if au.Token != "" {
		au.ClientCertificateData, au.ClientKeyData = nil, nil
	}
	p := filepath.Join(t.TempDir(), "edited.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestJoinRefusesBadInputAndLeavesNothing(t *testing.T) {
	gw := framework.Env.GatewayKubeconfig
	garbage := filepath.Join(t.TempDir(), "garbage.kubeconfig")
	if err := os.WriteFile(garbage, []byte("this: [is not a kubeconfig"), 0o600); err != nil {
		t.Fatal(err)
	}
	unreachable := memberKubeconfigWith(t, func(server, _ *string, _ *[]byte) { *server = "https://127.0.0.1:1" })
	badToken := memberKubeconfigWith(t, func(_, token *string, _ *[]byte) { *token = "not-a-valid-token" })
	tests := []struct {
		name, cluster, kubeconfig string
		want                      []string
	}{
		{"missing file", "bad-missing", filepath.Join(t.TempDir(), "nope.kubeconfig"), []string{"nope.kubeconfig"}},
		{"not a kubeconfig", "bad-garbage", garbage, []string{"garbage.kubeconfig"}},
		{"unreachable member", "bad-unreachable", unreachable, []string{"bad-unreachable", "127.0.0.1:1", "connection refused"}},
		{"credentials the member rejects", "bad-token", badToken, []string{"bad-token", "Unauthorized"}},
		{"invalid cluster name", "Not_A_Name", framework.Env.Member("member2").Kubeconfig, []string{"Not_A_Name", "cluster name"}},
		{"name already joined", "member1", framework.Env.Member("member2").Kubeconfig, []string{"member1 is already joined"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := framework.Fleetgate(t, "join", tc.cluster, "--kubeconfig", gw, "--cluster-kubeconfig", tc.kubeconfig)
			if r.Err == nil {
				t.Fatalf("join succeeded:\n%s", r.Stdout)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.Stderr, w) {
					t.Errorf("error does not mention %q:\n%s", w, r.Stderr)
				}
			}
			if tc.cluster != "member1" {
				assertNothingLeft(t, tc.cluster)
			}
		})
	}
	// member1 is untouched by the refused duplicate.
	waitReady(t, "member1", "True", 30*time.Second)
}

// TestUnjoinThenJoinAgain: unjoin removes the Cluster, its Secrets and what join created in the member;
// joining the same cluster again works, with and without the member's admin kubeconfig.
func TestUnjoinThenJoinAgain(t *testing.T) {
	gw := framework.Env.GatewayKubeconfig
	m := framework.Env.Member("member2")
	join := func() {
		t.Helper()
		r := framework.Fleetgate(t, "join", "member2", "--kubeconfig", gw, "--cluster-kubeconfig", m.Kubeconfig)
		if r.Err != nil || !strings.Contains(r.Stdout, "cluster(member2) is joined successfully") {
			t.Fatalf("join member2: %v\n%s%s", r.Err, r.Stdout, r.Stderr)
		}
		waitReady(t, "member2", "True", 30*time.Second)
	}
	memberObjects := func() string {
		sas := framework.KubectlResult(t, m.Kubeconfig, "-n", "kube-system", "get", "serviceaccounts", "-o", "name").Stdout
		crbs := framework.KubectlResult(t, m.Kubeconfig, "get", "clusterrolebindings", "-o", "name").Stdout
		return sas + crbs
	}
	join()
	if objs := memberObjects(); !strings.Contains(objs, "serviceaccount/fleetgate-propagator") || !strings.Contains(objs, "clusterrolebinding.rbac.authorization.k8s.io/fleetgate:impersonator") {
		t.Fatalf("join did not create the member identities:\n%s", objs)
	}
	// Unjoin with the stored credentials only.
	if r := framework.Fleetgate(t, "unjoin", "member2", "--kubeconfig", gw); r.Err != nil {
		t.Fatalf("unjoin member2: %v\n%s%s", r.Err, r.Stdout, r.Stderr)
	}
	assertNothingLeft(t, "member2")
	if objs := memberObjects(); strings.Contains(objs, "fleetgate-propagator\n") || strings.Contains(objs, "fleetgate-impersonator") {
		t.Errorf("unjoin left service accounts or the impersonator binding:\n%s", objs)
	}
	// Join again (adopting the binding the stored credentials could not remove), then unjoin with the
	// member's admin kubeconfig, which removes everything.
	join()
	if r := framework.Fleetgate(t, "unjoin", "member2", "--kubeconfig", gw, "--cluster-kubeconfig", m.Kubeconfig); r.Err != nil {
		t.Fatalf("unjoin member2: %v\n%s%s", r.Err, r.Stdout, r.Stderr)
	}
	assertNothingLeft(t, "member2")
	if objs := memberObjects(); strings.Contains(objs, "fleetgate") {
		t.Errorf("unjoin with --cluster-kubeconfig left objects in the member:\n%s", objs)
	}
	if r := framework.Fleetgate(t, "unjoin", "member2", "--kubeconfig", gw); r.Err == nil || !strings.Contains(r.Stderr, "member2 is not joined") {
		t.Errorf("unjoin of an unknown cluster: %v %s", r.Err, r.Stderr)
	}

	// A member that is down cannot be cleaned: unjoin refuses, unless --force; joining it again
	// later adopts what was left there.
	join()
	if err := m.StopAPIServer(t.Context()); err != nil {
		t.Fatal(err)
	}
	r := framework.Fleetgate(t, "unjoin", "member2", "--kubeconfig", gw)
	if r.Err == nil || !strings.Contains(r.Stderr, "--force") {
		t.Errorf("unjoin of an unreachable member without --force: %v %s", r.Err, r.Stderr)
	}
	if r := framework.Fleetgate(t, "unjoin", "member2", "--kubeconfig", gw, "--force"); r.Err != nil {
		t.Fatalf("unjoin --force: %v\n%s", r.Err, r.Stderr)
	}
	assertNothingLeft(t, "member2")
	if err := m.StartAPIServer(t.Context()); err != nil {
		t.Fatal(err)
	}
	join()
	if r := framework.Fleetgate(t, "unjoin", "member2", "--kubeconfig", gw, "--cluster-kubeconfig", m.Kubeconfig); r.Err != nil {
		t.Fatalf("final unjoin: %v\n%s", r.Err, r.Stderr)
	}
}
