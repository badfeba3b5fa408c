package clusterstatus

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/fleetgate/fleetgate/apis/client"
	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
)

func TestOptionsDefaults(t *testing.T) {
	for _, tc := range []struct {
		name                              string
		in                                Options
		period, timeout, failure, success time.Duration
	}{
		{"zero", Options{}, 10 * time.Second, 5 * time.Second, 30 * time.Second, 30 * time.Second},
		// The timeout is no longer capped at the period.
		{"short period", Options{Period: time.Second}, time.Second, 5 * time.Second, 30 * time.Second, 30 * time.Second},
		{"zero thresholds mean at once", Options{FailureThreshold: ptr.To(time.Duration(0)), SuccessThreshold: ptr.To(time.Duration(0))},
			10 * time.Second, 5 * time.Second, 0, 0},
		{"set", Options{Period: 2 * time.Second, Timeout: 7 * time.Second, FailureThreshold: ptr.To(3 * time.Second), SuccessThreshold: ptr.To(time.Second)},
			2 * time.Second, 7 * time.Second, 3 * time.Second, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.in.withDefaults()
			if o.Period != tc.period || o.Timeout != tc.timeout || *o.FailureThreshold != tc.failure || *o.SuccessThreshold != tc.success {
				t.Errorf("period %s timeout %s failure %s success %s, want %s %s %s %s", o.Period, o.Timeout,
					*o.FailureThreshold, *o.SuccessThreshold, tc.period, tc.timeout, tc.failure, tc.success)
			}
		})
	}
}

func TestProbeTimeoutIndependentOfPeriod(t *testing.T) {
	for _, tc := range []struct {
		name            string
		period, timeout time.Duration
	}{
		{"timeout shorter than the period cuts the probe off", time.Hour, 50 * time.Millisecond},
		{"timeout longer than the period is not capped to it", 20 * time.Millisecond, 300 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Options{Period: tc.period, Timeout: tc.timeout})
			f.join("member1")
			f.c.prober = proberFunc(func(ctx context.Context, _ string) (probe, error) {
				<-ctx.Done() // a member that never answers
				return answer(false), nil
			})
			began := time.Now() // before sync creates the probe's context: at least the timeout passes
			if err := f.c.sync(context.Background(), "member1"); err != nil {
				t.Fatal(err)
			}
			// A context deadline fires at or after the timeout; allow a loaded machine its slack.
			if got := time.Since(began); got < tc.timeout || got > tc.timeout+2*time.Second {
				t.Errorf("probe cut off after %s, want %s (period %s)", got, tc.timeout, tc.period)
			}
		})
	}
}

func TestNextProbe(t *testing.T) {
	for _, tc := range []struct {
		took, want time.Duration
	}{
		{0, 10 * time.Second},
		{2 * time.Second, 8 * time.Second},  // the period counts from the probe's start
		{5 * time.Second, 5 * time.Second},  // half a period
		{7 * time.Second, 5 * time.Second},  // a slow probe: half a period's rest
		{30 * time.Second, 5 * time.Second}, // slower than the period
	} {
		clock := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		c := &Controller{opts: Options{Period: 10 * time.Second, Clock: clock}}
		start := clock.Now()
		clock.Step(tc.took)
		if got := c.nextProbe(start); got != tc.want {
			t.Errorf("probe took %s: next in %s, want %s", tc.took, got, tc.want)
		}
	}
}

func TestSlowProbeDoesNotDelayOthers(t *testing.T) {
	host := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{clustersGVR: "ClusterList"})
	for _, name := range []string{"slow", "fast"} {
		c := &clusterv1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if _, err := client.Clusters(host).Create(context.Background(), c, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	c := New(host, nil, Options{Period: 50 * time.Millisecond, Timeout: time.Minute, Workers: 2})
	var slowDone atomic.Bool
	fastProbes := make(chan struct{}, 100)
	c.prober = proberFunc(func(ctx context.Context, name string) (probe, error) {
		if name == "slow" {
			<-ctx.Done()
			slowDone.Store(true)
			return answer(false), nil
		}
		fastProbes <- struct{}{}
		return answer(true), nil
	})
	// klog's global logger, not the test's: workers may still log after Run returned.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	deadline := time.After(20 * time.Second)
	for range 5 {
		select {
		case <-fastProbes:
		case <-deadline:
			t.Fatal("the fast cluster was not probed 5 times while the slow one hung")
		}
	}
	if slowDone.Load() {
		t.Error("the slow probe ended before its one-minute timeout")
	}
}
