package reconcile

import (
	"context"
	"errors"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/fleetgate/fleetgate/apis/client"
	"github.com/fleetgate/fleetgate/bootstrap/access"
	"github.com/fleetgate/fleetgate/propagate/cache"
	"github.com/fleetgate/fleetgate/propagate/member"
)

// MemberClients hands out a dynamic client per member cluster; *member.Clients is one.
type MemberClients interface {
	Dynamic(ctx context.Context, cluster string) (dynamic.Interface, error)
	Forget(cluster string)
}

var _ MemberClients = (*member.Clients)(nil)

// Options configure the controller. Host and Kube are required; everything else has a default.
type Options struct {
	// Host is the dynamic client of the host control plane. The reconciler writes templates'
	// metadata and bindings with it: give it a generous QPS (500 or more) so a restart with
	// thousands of templates is not throttled client-side.
	Host dynamic.Interface
	// Kube is the host's typed client: discovery (RESTMapper) and events.
	Kube kubernetes.Interface
	// Cache is the shared cache of fleetgate objects (the write pipeline reads the same one).
	// Nil: the controller creates its own. Run starts it either way (starting twice is harmless).
	Cache *cache.Cache
	// Members reaches member clusters. Nil: member.NewClients over bootstrap/access's Host getter
	// with QPS 500 and burst 1000 per member.
	Members MemberClients
	// Mapper maps apiVersion and kind to resources. Nil: a discovery-backed mapper over Kube that
	// is reset when it meets an unknown kind.
	Mapper meta.ResettableRESTMapper
	// Recorder receives the events on templates and policies. Nil: events are written to the host
	// as component "fleetgate".
	Recorder EventRecorder
	// Workers process templates in parallel (default 8).
	Workers int
	// ClusterWorkers write to each member cluster in parallel (default 8 per cluster).
	ClusterWorkers int
	// MemberTimeout bounds one member write including its retries (default 3s): a few attempts
	// with exponential backoff; what still fails goes back to the cluster's rate-limited queue.
	MemberTimeout time.Duration
	// PermanentRetry is when a write that a member refused for good (a conflict under Abort, an
	// invalid object, a kind the member does not serve) is tried again (default 1m).
	PermanentRetry time.Duration
	// ResyncPeriod is how often every propagating template is looked at again and every Ready
	// cluster swept (default 10m; negative: never). A safety net: events and sweeps on start and
	// on Ready keep things current; the periodic pass also finds copies deleted in a member.
	ResyncPeriod time.Duration
	// Clock stamps conditions (default: the real clock).
	Clock clock.PassiveClock
	// QueueClock times the work queues' delays and backoff (default: the real clock); tests step
	// a fake one to see what would be queued again later.
	QueueClock clock.WithTicker
	// QueueMetrics receives the work queues' metrics (depth, adds, retries, …) under the names
	// "templates", "template-kinds", "member-clusters" and "member-<cluster>" (default: none).
	QueueMetrics workqueue.MetricsProvider
	// Leading, when set, holds back everything that writes (the template and cluster workers, the
	// members' dispatchers and sweeps, the periodic resync) until it is closed: this replica was
	// elected to lead (ha.Elector). The caches fill and HasSynced turns true before, so that a
	// replica that is not leading serves reads and hands its writes over (Handoff on the leader)
	// with warm caches, and takes over at once when elected. Nil: lead at once.
	Leading <-chan struct{}
}

// Defaults.
const (
	DefaultWorkers        = 8
	DefaultClusterWorkers = 8
	DefaultMemberTimeout  = 3 * time.Second
	DefaultPermanentRetry = time.Minute
	DefaultResyncPeriod   = 10 * time.Minute
	// DefaultMemberQPS and DefaultMemberBurst are the member client limits when Members is nil.
	DefaultMemberQPS   = 500
	DefaultMemberBurst = 1000
)

// complete validates o and fills in the defaults.
func (o Options) complete() (Options, error) {
	if o.Host == nil || o.Kube == nil {
		return o, errors.New("reconcile: Options.Host and Options.Kube are required")
	}
	if o.Cache == nil {
		o.Cache = cache.New(o.Host)
	}
	if o.Members == nil {
		h := access.NewHost(client.Clusters(o.Host), o.Kube)
		h.QPS, h.Burst = DefaultMemberQPS, DefaultMemberBurst
		o.Members = member.NewClients(h)
	}
	if o.Mapper == nil {
		o.Mapper = restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(o.Kube.Discovery()))
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.ClusterWorkers <= 0 {
		o.ClusterWorkers = DefaultClusterWorkers
	}
	if o.MemberTimeout <= 0 {
		o.MemberTimeout = DefaultMemberTimeout
	}
	if o.PermanentRetry <= 0 {
		o.PermanentRetry = DefaultPermanentRetry
	}
	if o.ResyncPeriod == 0 {
		o.ResyncPeriod = DefaultResyncPeriod
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.QueueClock == nil {
		o.QueueClock = clock.RealClock{}
	}
	return o, nil
}
