package ha

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	coordinationlisters "k8s.io/client-go/listers/coordination/v1"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
)

// Names in the host.
const (
	// ReplicaLeasePrefix begins the name of each replica's Lease: <prefix><replica ID>.
	ReplicaLeasePrefix = "fleetgate-gateway-"
	// ReplicaLabel marks the replicas' Leases (value "true").
	ReplicaLabel = "fleetgate.io/gateway-replica"
	// PeerURLAnnotation on a replica's Lease is the URL its peers reach it at.
	PeerURLAnnotation = "fleetgate.io/peer-url"
	// DefaultReplicaLeaseDuration is how long a replica's Lease is valid after a renewal; it is
	// renewed every third of it.
	DefaultReplicaLeaseDuration = 30 * time.Second
	// staleReplicaLeases is how long after its end the Lease of a replica that is gone is kept
	// before any replica deletes it.
	staleReplicaLeases = time.Hour
)

// NewReplicaID returns a replica ID: the host name (a pod's name in a Deployment), cut to fit a
// Lease name with ReplicaLeasePrefix, and a random suffix (a restarted process is a new replica).
func NewReplicaID() string {
	host, _ := os.Hostname()
	host = strings.Trim(strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			return r
		case r >= 'A' && r <= 'Z':
			return r - 'A' + 'a'
		}
		return '-'
	}, host), "-")
	if host == "" {
		host = "gateway"
	}
	suffix := strings.ToLower(rand.Text()[:6])
	max := validation.DNS1123SubdomainMaxLength - len(ReplicaLeasePrefix) - len(suffix) - 1
	if len(host) > max {
		host = strings.TrimRight(host[:max], "-")
	}
	return host + "-" + suffix
}

// Replicas keeps this replica's Lease and reads its peers'.
type Replicas struct {
	kube      kubernetes.Interface
	namespace string
	id, url   string
	duration  time.Duration
	clock     clock.WithTicker

	factory informers.SharedInformerFactory
	leases  coordinationlisters.LeaseNamespaceLister
	synced  func() bool
}

// NewReplicas returns the replica id, reachable by its peers at url, in namespace of the host.
func NewReplicas(kube kubernetes.Interface, namespace, id, url string, duration time.Duration) *Replicas {
	if duration <= 0 {
		duration = DefaultReplicaLeaseDuration
	}
	f := informers.NewSharedInformerFactoryWithOptions(kube, 0, informers.WithNamespace(namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = ReplicaLabel + "=true" }))
	leases := f.Coordination().V1().Leases()
	r := &Replicas{kube: kube, namespace: namespace, id: id, url: url, duration: duration, clock: clock.RealClock{}, factory: f,
		leases: leases.Lister().Leases(namespace)}
	r.synced = leases.Informer().HasSynced
	return r
}

// ID is this replica's ID.
func (r *Replicas) ID() string { return r.id }

// URL is where this replica's peers reach it.
func (r *Replicas) URL() string { return r.url }

// HasSynced reports whether the peers' Leases have been read.
func (r *Replicas) HasSynced() bool { return r.synced() }

// Run announces this replica until ctx ends, then deletes its Lease (its peers stop asking it at
// once instead of when it would have expired).
func (r *Replicas) Run(ctx context.Context) error {
	logger := klog.FromContext(ctx).WithName("replicas")
	r.factory.Start(ctx.Done())
	t := r.clock.NewTicker(r.duration / 3)
	defer t.Stop()
	for {
		if err := r.renew(ctx); err != nil && ctx.Err() == nil {
			logger.Error(err, "Renewing this replica's Lease failed; retrying", "replica", r.id)
		}
		r.collect(ctx)
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			defer cancel()
			if err := r.kube.CoordinationV1().Leases(r.namespace).Delete(dctx, ReplicaLeasePrefix+r.id, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				logger.Error(err, "Deleting this replica's Lease failed; it expires by itself", "replica", r.id)
			}
			r.factory.Shutdown()
			return nil
		case <-t.C():
		}
	}
}

func (r *Replicas) renew(ctx context.Context) error {
	leases := r.kube.CoordinationV1().Leases(r.namespace)
	now := metav1.NewMicroTime(r.clock.Now())
	want := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: ReplicaLeasePrefix + r.id, Namespace: r.namespace,
			Labels: map[string]string{ReplicaLabel: "true"}, Annotations: map[string]string{PeerURLAnnotation: r.url}},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(r.id), LeaseDurationSeconds: ptr.To(int32(r.duration / time.Second)),
			AcquireTime: &now, RenewTime: &now},
	}
	cur, err := leases.Get(ctx, want.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = leases.Create(ctx, want, metav1.CreateOptions{})
		return err
	case err != nil:
		return err
	}
	want.ResourceVersion = cur.ResourceVersion
	want.Spec.AcquireTime = cur.Spec.AcquireTime
	_, err = leases.Update(ctx, want, metav1.UpdateOptions{})
	return err
}

// collect deletes the Leases of replicas gone for staleReplicaLeases (a replica killed does not
// delete its own).
func (r *Replicas) collect(ctx context.Context) {
	if !r.synced() {
		return
	}
	all, _ := r.leases.List(labels.Everything())
	for _, l := range all {
		if end, ok := leaseEnd(l); ok && r.clock.Since(end) > staleReplicaLeases {
			_ = r.kube.CoordinationV1().Leases(r.namespace).Delete(ctx, l.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &l.ResourceVersion}})
		}
	}
}

func leaseEnd(l *coordinationv1.Lease) (time.Time, bool) {
	if l.Spec.RenewTime == nil || l.Spec.LeaseDurationSeconds == nil {
		return time.Time{}, false
	}
	return l.Spec.RenewTime.Add(time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second), true
}

// ErrReplicaUnknown is returned for a replica with no live Lease.
var ErrReplicaUnknown = errors.New("no live replica")

// PeerURL returns the URL of replica id, from its Lease, while the Lease is valid.
func (r *Replicas) PeerURL(id string) (string, error) {
	if id == r.id {
		return r.url, nil
	}
	l, err := r.leases.Get(ReplicaLeasePrefix + id)
	if err != nil {
		return "", fmt.Errorf("replica %s: %w", id, ErrReplicaUnknown)
	}
	if end, ok := leaseEnd(l); !ok || r.clock.Now().After(end) {
		return "", fmt.Errorf("replica %s: %w (its Lease ended)", id, ErrReplicaUnknown)
	}
	url := l.Annotations[PeerURLAnnotation]
	if url == "" {
		return "", fmt.Errorf("replica %s: its Lease has no %s", id, PeerURLAnnotation)
	}
	return url, nil
}
