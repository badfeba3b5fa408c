package access

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/transport"

	"github.com/fleetgate/fleetgate/apis/client"
	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	"github.com/fleetgate/fleetgate/bootstrap/tunnel"
)

// Getter returns the configuration to reach a member as the gateway's propagation identity.
type Getter interface {
	Config(ctx context.Context, cluster string) (*rest.Config, error)
}

// ClusterGetter reads a Cluster by name.
type ClusterGetter interface {
	Get(ctx context.Context, namespace, name string) (*clusterv1alpha1.Cluster, error)
}

// Tunnels dials Pull members through their agents' tunnels (bootstrap/tunnel.Server).
type Tunnels interface {
	DialerFor(cluster string) func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Host resolves member access from the Cluster objects and Secrets in the host.
type Host struct {
	Clusters ClusterGetter
	Secrets  kubernetes.Interface
	// Tunnels reaches Pull members; nil: they are unreachable.
	Tunnels Tunnels
	// QPS and Burst for member clients; defaults 100 and 200.
	QPS   float32
	Burst int
	// TokenReload is how long a client uses the token it last read from its Secret before reading
	// it again (default DefaultTokenReload). Any Config call for the cluster reads it at once.
	TokenReload time.Duration

	tokensMu sync.Mutex
	tokens   map[tokenKey]*secretToken
}

var _ Getter = (*Host)(nil)

// NewHost returns a Getter reading from the host.
func NewHost(clusters *client.Resource[clusterv1alpha1.Cluster, *clusterv1alpha1.Cluster], secrets kubernetes.Interface) *Host {
	return &Host{Clusters: clusters, Secrets: secrets}
}

// Config returns the propagation identity's configuration for the cluster.
func (h *Host) Config(ctx context.Context, name string) (*rest.Config, error) {
	c, err := h.Clusters.Get(ctx, "", name)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", name, err)
	}
	return h.configFor(ctx, c, c.Spec.SecretRef)
}

// ImpersonatorConfig returns the impersonator identity's configuration for the cluster: requests
// made with it act as the user named in their Impersonate-* headers.
func (h *Host) ImpersonatorConfig(ctx context.Context, name string) (*rest.Config, error) {
	c, err := h.Clusters.Get(ctx, "", name)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", name, err)
	}
	return h.configFor(ctx, c, c.Spec.ImpersonatorSecretRef)
}

func (h *Host) configFor(ctx context.Context, c *clusterv1alpha1.Cluster, ref *clusterv1alpha1.LocalSecretReference) (*rest.Config, error) {
	if c.Spec.SyncMode == clusterv1alpha1.Pull {
		return h.pullConfig(c)
	}
	if c.Spec.SyncMode != clusterv1alpha1.Push {
		return nil, fmt.Errorf("cluster %s: sync mode %q is not reachable", c.Name, c.Spec.SyncMode)
	}
	if c.Spec.APIEndpoint == "" {
		return nil, fmt.Errorf("cluster %s: spec.apiEndpoint is empty", c.Name)
	}
	// Whoever may write a Cluster names its Secret: only the cluster's own is ever sent to a member.
	s, err := CredentialsSecret(ctx, h.Secrets, c.Name, ref)
	if err != nil {
		return nil, err
	}
	// Not BearerToken: a client built now must send the token of the Secret once it is renewed.
	token := h.tokenFor(c.Name, *ref, string(s.Data[clusterv1alpha1.SecretTokenKey]))
	cfg := &rest.Config{
		Host:          c.Spec.APIEndpoint,
		WrapTransport: transport.ResettableTokenSourceWrapTransport(token),
		QPS:           h.QPS,
		Burst:         h.Burst,
	}
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = 100, 200
	}
	if c.Spec.InsecureSkipTLSVerification {
		cfg.Insecure = true
	} else {
		cfg.CAData = s.Data[clusterv1alpha1.SecretCADataKey]
	}
	if c.Spec.ProxyURL != "" {
		return nil, fmt.Errorf("cluster %s: spec.proxyURL is not supported yet", c.Name)
	}
	return cfg, nil
}

// pullConfig reaches a Pull member through its agent's tunnel: plain HTTP inside the tunnel (the
// tunnel itself is mutual TLS) to the agent's APIServerProxy, which adds the agent's own credentials
// and passes Impersonate-* headers on. The gateway holds no credential for the member, so the
// propagation and the impersonator identities are both the agent's.
func (h *Host) pullConfig(c *clusterv1alpha1.Cluster) (*rest.Config, error) {
	if h.Tunnels == nil {
		return nil, fmt.Errorf("cluster %s: Pull clusters are not reachable from here (no tunnel server)", c.Name)
	}
	cfg := &rest.Config{Host: "http://" + tunnel.AgentAddress, Dial: h.Tunnels.DialerFor(c.Name), QPS: h.QPS, Burst: h.Burst}
	// The agent's own answer "your member is down" is a transport error, as for a Push member.
	name := c.Name
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return tunnel.AgentErrors(name, rt) })
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = 100, 200
	}
	return cfg, nil
}

// ClusterLabel labels a credentials Secret with the cluster it is for (join sets it).
const ClusterLabel = "fleetgate.io/cluster"
