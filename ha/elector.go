package ha

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"
)

// LeaderLease is the Lease in the host the replicas elect the controllers' leader with.
const LeaderLease = "fleetgate-controllers"

// Election timing. A leader killed is replaced once its Lease has ended (LeaseDuration after the
// others last saw it renewed, which they look at every RetryPeriod) and another replica's next
// try: within about 1 + 7 + 1 s of the kill. A leader that cannot renew for RenewDeadline stops
// leading, 2 s before anyone else may take over. The cost: a Get (and the leader's Update) per
// replica per RetryPeriod.
const (
	DefaultLeaseDuration = 7 * time.Second
	DefaultRenewDeadline = 5 * time.Second
	DefaultRetryPeriod   = time.Second
)

// ErrLeadershipLost is what Elector.Run returns when this replica led and stopped leading while
// its context was still live: it must stop, since its controllers may still be writing while
// another replica takes over.
var ErrLeadershipLost = errors.New("leader election lost")

// ElectorOptions configure an Elector.
type ElectorOptions struct {
	Kube                                      kubernetes.Interface
	Namespace, ID                             string
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

// Elector elects the replica that runs the controllers.
type Elector struct {
	le      *leaderelection.LeaderElector
	once    sync.Once
	leading chan struct{}
}

// NewElector returns an Elector; Run takes part in the election.
func NewElector(o ElectorOptions) (*Elector, error) {
	if o.LeaseDuration == 0 {
		o.LeaseDuration, o.RenewDeadline, o.RetryPeriod = DefaultLeaseDuration, DefaultRenewDeadline, DefaultRetryPeriod
	}
	e := &Elector{leading: make(chan struct{})}
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Name: LeaderLease, Namespace: o.Namespace},
		Client:     o.Kube.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: o.ID},
	}
	var err error
	e.le, err = leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:          lock,
		LeaseDuration: o.LeaseDuration,
		RenewDeadline: o.RenewDeadline,
		RetryPeriod:   o.RetryPeriod,
		// Run's caller cancels its context only once the controllers have stopped: releasing the
		// Lease then hands over at once without two writers.
		ReleaseOnCancel: true,
		Name:            LeaderLease,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(context.Context) { e.once.Do(func() { close(e.leading) }) },
			OnStoppedLeading: func() {}, // Run's return says so
		},
	})
	if err != nil {
		return nil, fmt.Errorf("leader election: %w", err)
	}
	return e, nil
}

// Run takes part in the election until ctx ends, or until this replica, having led, stops
// leading (ErrLeadershipLost).
func (e *Elector) Run(ctx context.Context) error {
	logger := klog.FromContext(ctx).WithName("leader-election")
	logger.Info("Taking part in the election of the controllers' leader", "lease", LeaderLease)
	go func() {
		select {
		case <-e.leading:
			logger.Info("Leading the controllers")
		case <-ctx.Done():
		}
	}()
	e.le.Run(ctx) // returns when ctx ends or, having led, when it stops leading
	if ctx.Err() == nil {
		return ErrLeadershipLost
	}
	return nil
}

// Leading is closed once this replica leads.
func (e *Elector) Leading() <-chan struct{} { return e.leading }

// IsLeader reports whether this replica leads now.
func (e *Elector) IsLeader() bool { return e.le.IsLeader() }

// Leader is the ID of the replica that leads as last observed ("" before anyone was observed).
func (e *Elector) Leader() string { return e.le.GetLeader() }
