package access

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/fleetgate/fleetgate/certs"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	"github.com/fleetgate/fleetgate/bootstrap/tunnel"
)

type clusters map[string]*clusterv1alpha1.Cluster

func (c clusters) Get(_ context.Context, _, name string) (*clusterv1alpha1.Cluster, error) {
	if cl, ok := c[name]; ok {
		return cl, nil
	}
	return nil, errors.New("not found")
}

// tunnels records which cluster's dialer was asked for.
type tunnels struct{ asked []string }

func (t *tunnels) DialerFor(cluster string) func(context.Context, string, string) (net.Conn, error) {
	t.asked = append(t.asked, cluster)
	return func(context.Context, string, string) (net.Conn, error) { return nil, errors.New("dialled " + cluster) }
}

// TestPullClusterThroughItsTunnel: a Pull cluster is reached through that cluster's tunnel, at the
// agent's address, with no credential; without a tunnel server it is unreachable, with a clear
// error.
func TestPullClusterThroughItsTunnel(t *testing.T) {
	pull := &clusterv1alpha1.Cluster{Spec: clusterv1alpha1.ClusterSpec{SyncMode: clusterv1alpha1.Pull}}
	pull.Name = "member2"
	tun := &tunnels{}
	h := &Host{Clusters: clusters{"member2": pull}, Tunnels: tun}
	for name, cfgFor := range map[string]func() (string, string, error){
		"Config": func() (string, string, error) {
			c, err := h.Config(context.Background(), "member2")
			if err != nil {
				return "", "", err
			}
			_, derr := c.Dial(context.Background(), "tcp", tunnel.AgentAddress)
			return c.Host, c.BearerToken + derr.Error(), nil
		},
		"ImpersonatorConfig": func() (string, string, error) {
			c, err := h.ImpersonatorConfig(context.Background(), "member2")
			if err != nil {
				return "", "", err
			}
			_, derr := c.Dial(context.Background(), "tcp", tunnel.AgentAddress)
			return c.Host, c.BearerToken + derr.Error(), nil
		},
	} {
		host, rest, err := cfgFor()
		if err != nil || host != "http://"+tunnel.AgentAddress || rest != "dialled member2" {
			t.Errorf("%s: host %q, token+dial %q, %v; want the agent's address through member2's tunnel and no token", name, host, rest, err)
		}
	}
	h.Tunnels = nil
	if _, err := h.Config(context.Background(), "member2"); err == nil || !strings.Contains(err.Error(), "cluster member2") {
		t.Errorf("without a tunnel server: %v", err)
	}
}

// TestCredentialsOnlyFromTheClustersOwnSecret: a Push Cluster's secretRef can name only a Secret
// in fleetgate-system labelled for that cluster; any other Secret of the host (another namespace's,
// or another cluster's) is never read into a member request, whoever wrote the Cluster.
func TestCredentialsOnlyFromTheClustersOwnSecret(t *testing.T) {
	secret := func(ns, name, labelledFor string) *corev1.Secret {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Data: map[string][]byte{clusterv1alpha1.SecretTokenKey: []byte("token-of-" + ns + "/" + name)}}
		if labelledFor != "" {
			s.Labels = map[string]string{ClusterLabel: labelledFor}
		}
		return s
	}
	kube := fake.NewSimpleClientset(
		secret(certs.Namespace, "member1", "member1"),
		secret(certs.Namespace, "member2", "member2"),
		secret(certs.Namespace, "unlabelled", ""),
		secret("kube-system", "admin-token", "member1"),
	)
	push := func(ns, name string) *clusterv1alpha1.Cluster {
		c := &clusterv1alpha1.Cluster{Spec: clusterv1alpha1.ClusterSpec{SyncMode: clusterv1alpha1.Push, APIEndpoint: "https://127.0.0.1:1",
			SecretRef: &clusterv1alpha1.LocalSecretReference{Namespace: ns, Name: name}}}
		c.Name = "member1"
		return c
	}
	for _, tc := range []struct {
		name, ns, secret, wantErr string
	}{
		{"its own", certs.Namespace, "member1", ""},
		{"another namespace", "kube-system", "admin-token", "only from namespace " + certs.Namespace},
		{"another cluster's", certs.Namespace, "member2", "labelled for cluster member2"},
		{"unlabelled", certs.Namespace, "unlabelled", "not labelled " + ClusterLabel + "=member1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &Host{Clusters: clusters{"member1": push(tc.ns, tc.secret)}, Secrets: kube}
			cfg, err := h.Config(context.Background(), "member1")
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Config: %v; want the cluster's own token", err)
			case tc.wantErr == "":
				if tok, _ := (&member{}).send(t, cfg); tok != "token-of-"+tc.ns+"/"+tc.secret {
					t.Fatalf("requests carry %q; want the cluster's own token", tok)
				}
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Config = %v, %v; want an error containing %q", cfg, err, tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), "member1"):
				t.Errorf("error %q does not name the cluster", err)
			}
		})
	}
}
