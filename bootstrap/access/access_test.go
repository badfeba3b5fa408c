package access

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

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
