package clusterstatus

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
)

// healthCache remembers, per cluster, the health last observed and when that health was first
// observed, so that the recorded Ready condition only changes once the new health has held without a
// break for its threshold (Karmada's cluster condition cache). It is in memory only: after a restart
// a cluster whose recorded condition disagrees with the probes waits a full threshold again.
type healthCache struct {
	failureThreshold time.Duration
	successThreshold time.Duration

	mu       sync.Mutex
	clusters map[string]observation
}

// observation is the health one cluster has shown without a break since a time.
type observation struct {
	uid     types.UID // a Cluster deleted and joined again under the same name starts afresh
	healthy bool
	since   time.Time
}

func newHealthCache(failureThreshold, successThreshold time.Duration) *healthCache {
	return &healthCache{
		failureThreshold: failureThreshold,
		successThreshold: successThreshold,
		clusters:         map[string]observation{},
	}
}

// hold notes that c was observed healthy (or not) at now and reports whether its recorded Ready
// condition must stay as it is for now, and since when the observed health has held. A cluster with
// no Ready condition (or an Unknown one) is never held: a new cluster gets its first condition at
// once.
func (h *healthCache) hold(c *clusterv1alpha1.Cluster, healthy bool, now time.Time) (bool, time.Time) {
	h.mu.Lock()
	o, seen := h.clusters[c.Name]
	if !seen || o.uid != c.UID || o.healthy != healthy {
		o = observation{uid: c.UID, healthy: healthy, since: now}
		h.clusters[c.Name] = o
	}
	h.mu.Unlock()

	recorded := meta.FindStatusCondition(c.Status.Conditions, clusterv1alpha1.ClusterConditionReady)
	threshold := h.successThreshold
	flip := recorded != nil && recorded.Status == metav1.ConditionFalse && healthy
	if !healthy {
		threshold = h.failureThreshold
		flip = recorded != nil && recorded.Status == metav1.ConditionTrue
	}
	return flip && now.Sub(o.since) < threshold, o.since
}

// forget drops what is known of a deleted cluster.
func (h *healthCache) forget(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.clusters, name)
}
