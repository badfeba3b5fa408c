package ha

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	"github.com/fleetgate/fleetgate/bootstrap/tunnel"
)

// TunnelReplicaAnnotation on a Pull Cluster names the replica its agent's tunnel ends on; the
// replica writes it when the agent connects and removes it (if still its own) when the agent
// leaves.
const TunnelReplicaAnnotation = "fleetgate.io/tunnel-replica"

// Tunnels reaches Pull members from any replica (bootstrap/access.Tunnels): through this
// replica's tunnel when the agent is connected here, else through the replica the Cluster names.
type Tunnels struct {
	Local LocalTunnels
	// Holder returns what the Cluster's TunnelReplicaAnnotation says ("" when it has none), from
	// the host cache.
	Holder func(cluster string) string
	Peers  *Peers
	Self   string
}

// DialerFor returns a dial function for cluster's member.
func (t *Tunnels) DialerFor(cluster string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if t.Local.Connected(cluster) {
			return t.Local.Dial(ctx, cluster, network, addr)
		}
		holder := t.Holder(cluster)
		if holder == "" || holder == t.Self || t.Peers == nil {
			return nil, fmt.Errorf("cluster %s: %w", cluster, tunnel.ErrNotConnected)
		}
		return t.Peers.Dial(ctx, holder, cluster, network, addr)
	}
}

// AgentTunnels is the tunnel server as the renewal endpoint sees it (bootstrap.AgentAuthenticator).
type AgentTunnels interface {
	LocalTunnels
	Authenticate(r *http.Request) (string, *x509.Certificate, error)
}

// Agents is the renewal endpoint's view of the tunnels on any replica: an agent renewing its
// certificate through this replica has its sessions extended here and, when its tunnel ends on
// another replica (the one the Cluster names), there too.
type Agents struct {
	AgentTunnels
	Holder func(cluster string) string
	Peers  *Peers
	Self   string
}

// Extend extends cluster's sessions here, and on the replica holding its tunnel if that is
// another (in the background: the renewal's answer does not wait; a failure is logged, and the
// session then ends when the old certificate expires, after which the agent reconnects).
func (a *Agents) Extend(cluster string, notAfter time.Time) {
	a.AgentTunnels.Extend(cluster, notAfter)
	holder := a.Holder(cluster)
	if a.AgentTunnels.Connected(cluster) || holder == "" || holder == a.Self || a.Peers == nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.Peers.Extend(ctx, holder, cluster, notAfter); err != nil {
			klog.Background().Error(err, "The agent's tunnel on another replica keeps its old end", "cluster", cluster, "replica", holder)
		}
	}()
}

// HolderRecorder keeps TunnelReplicaAnnotation true of this replica's tunnels: Connected and
// Disconnected (the tunnel server's hooks) queue the cluster, and a worker writes the Cluster.
type HolderRecorder struct {
	host  dynamic.Interface
	self  string
	local LocalTunnels
	queue workqueue.TypedRateLimitingInterface[string]
}

var clustersGVR = clusterv1alpha1.GroupVersion.WithResource("clusters")

// NewHolderRecorder returns the recorder of replica self's tunnels.
func NewHolderRecorder(host dynamic.Interface, self string, local LocalTunnels) *HolderRecorder {
	return &HolderRecorder{host: host, self: self, local: local,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "tunnel-holders"})}
}

// Changed queues cluster: its agent connected here or left.
func (h *HolderRecorder) Changed(cluster string) { h.queue.Add(cluster) }

// Run writes the annotations until ctx ends.
func (h *HolderRecorder) Run(ctx context.Context) {
	defer h.queue.ShutDown()
	go wait.UntilWithContext(ctx, func(ctx context.Context) {
		for h.next(ctx) {
		}
	}, time.Second)
	<-ctx.Done()
}

func (h *HolderRecorder) next(ctx context.Context) bool {
	cluster, shutdown := h.queue.Get()
	if shutdown {
		return false
	}
	defer h.queue.Done(cluster)
	if err := h.sync(ctx, cluster); err != nil {
		if ctx.Err() == nil {
			klog.FromContext(ctx).Error(err, "Recording the replica of a tunnel failed; retrying", "cluster", cluster)
			h.queue.AddRateLimited(cluster)
		}
		return true
	}
	h.queue.Forget(cluster)
	return true
}

// sync names this replica on the Cluster when its agent is connected here (the latest connection
// wins: an agent that moved is named by the replica it moved to), and removes the name when it
// left, if the Cluster still names this replica. It writes without looking at the cache, which
// may not show a write of a moment ago yet: one patch per connection and per disconnection.
func (h *HolderRecorder) sync(ctx context.Context, cluster string) error {
	clusters := h.host.Resource(clustersGVR)
	var patch []byte
	var pt types.PatchType
	if h.local.Connected(cluster) {
		pt = types.MergePatchType
		patch, _ = json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{TunnelReplicaAnnotation: h.self}}})
	} else {
		// Only if it still names this replica: another may have recorded itself meanwhile.
		pt = types.JSONPatchType
		path := "/metadata/annotations/" + jsonPointerEscape(TunnelReplicaAnnotation)
		patch, _ = json.Marshal([]map[string]any{{"op": "test", "path": path, "value": h.self}, {"op": "remove", "path": path}})
	}
	_, err := clusters.Patch(ctx, cluster, pt, patch, metav1.PatchOptions{FieldManager: "fleetgate-gateway"})
	switch {
	case apierrors.IsNotFound(err):
		return nil // deleted: nothing to record
	case pt == types.JSONPatchType && apierrors.IsInvalid(err):
		return nil // the test failed: another replica holds it now, or none does
	}
	return err
}

// jsonPointerEscape escapes s as one reference token of a JSON pointer (RFC 6901).
var jsonPointerEscape = strings.NewReplacer("~", "~0", "/", "~1").Replace
