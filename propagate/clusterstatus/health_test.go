package clusterstatus

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/fleetgate/fleetgate/apis/client"
	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
)

// proberFunc is a prober that calls itself.
type proberFunc func(ctx context.Context, cluster string) (probe, error)

func (f proberFunc) Probe(ctx context.Context, cluster string) (probe, error) { return f(ctx, cluster) }

var _ prober = proberFunc(nil)

// answer is what a probe tells of a healthy or an unreachable member.
func answer(healthy bool) probe {
	if !healthy {
		return probe{message: "cluster is not reachable or not ready: connection refused"}
	}
	return probe{ready: true, status: clusterv1alpha1.ClusterStatus{KubernetesVersion: "v1.37.2"}}
}

// fixture drives one controller's sync over a fake host with a fake clock and a fake prober; it
// copies the host's object into the informer cache after every sync, as a running informer would.
type fixture struct {
	t       *testing.T
	c       *Controller
	clock   *clocktesting.FakeClock
	healthy atomic.Bool // what the fake prober answers
	host    *dynamicfake.FakeDynamicClient
}

var clustersGVR = clusterv1alpha1.GroupVersion.WithResource("clusters")

func newFixture(t *testing.T, o Options) *fixture {
	t.Helper()
	f := &fixture{
		t:     t,
		clock: clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
		host: dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
			map[schema.GroupVersionResource]string{clustersGVR: "ClusterList"}),
	}
	o.Clock = f.clock
	f.c = New(f.host, nil, o)
	f.c.prober = proberFunc(func(context.Context, string) (probe, error) { return answer(f.healthy.Load()), nil })
	t.Cleanup(f.c.queue.ShutDown)
	return f
}

// join creates a Cluster with conditions (none: a cluster just joined).
func (f *fixture) join(name string, conditions ...metav1.Condition) {
	f.t.Helper()
	c := &clusterv1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID(name + "-uid")}}
	c.Status.Conditions = conditions
	if _, err := client.Clusters(f.host).Create(context.Background(), c, metav1.CreateOptions{}); err != nil {
		f.t.Fatal(err)
	}
	f.refresh(name)
}

// refresh copies the host's Cluster into the informer cache.
func (f *fixture) refresh(name string) {
	f.t.Helper()
	u, err := f.host.Resource(clustersGVR).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.c.informer.GetIndexer().Update(u); err != nil {
		f.t.Fatal(err)
	}
}

// probe moves the clock by after, syncs name with the prober answering healthy, and returns the
// Cluster as the host then has it.
func (f *fixture) probe(name string, after time.Duration, healthy bool) *clusterv1alpha1.Cluster {
	f.t.Helper()
	f.clock.Step(after)
	f.healthy.Store(healthy)
	if err := f.c.sync(context.Background(), name); err != nil {
		f.t.Fatalf("sync: %v", err)
	}
	f.refresh(name)
	c, err := client.Clusters(f.host).Get(context.Background(), "", name)
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// readyState is what the checks look at: the recorded Ready status and whether the taint is on.
type readyState struct {
	ready   metav1.ConditionStatus
	tainted bool
}

func stateOf(c *clusterv1alpha1.Cluster) readyState {
	s := readyState{ready: "none"}
	if cond := meta.FindStatusCondition(c.Status.Conditions, clusterv1alpha1.ClusterConditionReady); cond != nil {
		s.ready = cond.Status
	}
	for _, t := range c.Spec.Taints {
		s.tainted = s.tainted || t.Key == clusterv1alpha1.TaintClusterNotReady
	}
	return s
}

var (
	ready    = readyState{ready: metav1.ConditionTrue}
	notReady = readyState{ready: metav1.ConditionFalse, tainted: true}
)

// step is one probe: after this long since the previous one, the member answers healthy or not,
// and the Cluster must then be in state want.
type step struct {
	after   time.Duration
	healthy bool
	want    readyState
}

func TestOneFailedProbeKeepsReady(t *testing.T) {
	f := newFixture(t, Options{Period: time.Second}) // default failure threshold: 30s
	f.join("member1")
	if got := stateOf(f.probe("member1", 0, true)); got != ready {
		t.Fatalf("after the first good probe: %+v, want %+v", got, ready)
	}
	c := f.probe("member1", time.Second, false)
	if got := stateOf(c); got != ready {
		t.Errorf("one failed probe with a 30s failure threshold: %+v, want %+v (conditions %+v)", got, ready, c.Status.Conditions)
	}
}

func dur(d time.Duration) *time.Duration { return &d }

// alternate is n probes every apart, failing and passing by turns, all of which must leave want.
func alternate(n int, every time.Duration, want readyState) []step {
	out := make([]step, n)
	for i := range out {
		out[i] = step{after: every, healthy: i%2 == 1, want: want}
	}
	return out
}

func TestReadyFollowsThresholds(t *testing.T) {
	const p = 10 * time.Second
	okThen := func(steps ...step) []step { return append([]step{{0, true, ready}}, steps...) }
	failThen := func(steps ...step) []step { return append([]step{{0, false, notReady}}, steps...) }
	for _, tc := range []struct {
		name             string
		failure, success *time.Duration // nil: the default, 30s
		steps            []step
	}{
		{name: "a new cluster is Ready at its first good probe", steps: okThen()},
		{name: "a new unreachable cluster is NotReady at its first probe", steps: failThen()},
		{name: "failures shorter than the failure threshold keep Ready", steps: okThen(
			step{p, false, ready}, step{p, false, ready}, step{p, false, ready}, step{p - time.Second, false, ready})},
		{name: "failures for the failure threshold: NotReady and tainted", steps: okThen(
			step{p, false, ready}, step{p, false, ready}, step{p, false, ready}, step{p, false, notReady},
			step{p, false, notReady})},
		{name: "a custom failure threshold", failure: dur(3 * time.Second), steps: okThen(
			step{time.Second, false, ready}, step{2 * time.Second, false, ready}, step{time.Second, false, notReady})},
		{name: "a zero failure threshold flips at the first failure", failure: dur(0), steps: okThen(
			step{p, false, notReady})},
		{name: "intermittent failures never flip", steps: okThen(alternate(20, p, ready)...)},
		{name: "intermittent failures faster than the period never flip", failure: dur(3 * time.Second),
			steps: okThen(alternate(20, time.Second, ready)...)},
		{name: "a success restarts the failure timer", steps: okThen(
			step{p, false, ready}, step{p, false, ready}, step{5 * time.Second, true, ready},
			step{p, false, ready}, step{p, false, ready}, step{p, false, ready}, step{p, false, notReady})},
		{name: "recovery needs the success threshold", steps: failThen(
			step{p, true, notReady}, step{p, true, notReady}, step{p, true, notReady},
			step{p - time.Second, true, notReady}, step{time.Second, true, ready}, step{p, true, ready})},
		{name: "a custom success threshold", success: dur(time.Second), steps: failThen(
			step{time.Second, true, notReady}, step{time.Second, true, ready})},
		{name: "a zero success threshold recovers at the first success", success: dur(0), steps: failThen(
			step{p, true, ready})},
		{name: "intermittent recovery stays NotReady", steps: failThen(alternate(20, p, notReady)...)},
		{name: "a failure restarts the success timer", steps: failThen(
			step{p, true, notReady}, step{p, true, notReady}, step{5 * time.Second, false, notReady},
			step{p, true, notReady}, step{p, true, notReady}, step{p, true, notReady}, step{p, true, ready})},
		{name: "down, up and down again", failure: dur(2 * p), success: dur(p), steps: okThen(
			step{p, false, ready}, step{p, false, ready}, step{p, false, notReady},
			step{p, true, notReady}, step{p, true, ready},
			step{p, false, ready}, step{2 * p, false, notReady})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Options{Period: p, FailureThreshold: tc.failure, SuccessThreshold: tc.success})
			f.join("member1")
			var elapsed time.Duration
			for i, s := range tc.steps {
				elapsed += s.after
				c := f.probe("member1", s.after, s.healthy)
				if got := stateOf(c); got != s.want {
					t.Fatalf("step %d (at %s, healthy %v): %+v, want %+v (conditions %+v)", i, elapsed, s.healthy, got, s.want, c.Status.Conditions)
				}
			}
		})
	}
}

// updates counts the writes the controller made to the host.
func updates(f *fixture) int {
	n := 0
	for _, a := range f.host.Actions() {
		if a.GetVerb() == "update" {
			n++
		}
	}
	return n
}

func TestHeldConditionIsNotRewritten(t *testing.T) {
	f := newFixture(t, Options{Period: time.Second})
	f.join("member1")
	before := meta.FindStatusCondition(f.probe("member1", 0, true).Status.Conditions, clusterv1alpha1.ClusterConditionReady)
	writes := updates(f)
	for range 20 {
		f.probe("member1", time.Second, false)
	}
	c := f.probe("member1", time.Second, false)
	if n := updates(f) - writes; n != 0 {
		t.Errorf("%d writes to the host while the Ready condition was held", n)
	}
	after := meta.FindStatusCondition(c.Status.Conditions, clusterv1alpha1.ClusterConditionReady)
	if *after != *before {
		t.Errorf("held condition rewritten: %+v, was %+v", after, before)
	}
}

func TestRestartWaitsForTheThreshold(t *testing.T) {
	// The condition was recorded by an earlier run of the controller, whose cache is gone.
	f := newFixture(t, Options{Period: time.Second})
	f.join("member1", metav1.Condition{Type: clusterv1alpha1.ClusterConditionReady, Status: metav1.ConditionTrue,
		Reason: "ClusterReady", LastTransitionTime: metav1.NewTime(f.clock.Now().Add(-time.Hour))})
	if got := stateOf(f.probe("member1", 0, false)); got != ready {
		t.Fatalf("first failure after a restart: %+v, want %+v", got, ready)
	}
	if got := stateOf(f.probe("member1", DefaultThreshold, false)); got != notReady {
		t.Errorf("failing for the threshold after a restart: %+v, want %+v", got, notReady)
	}
}

func TestDeletedClusterIsForgotten(t *testing.T) {
	f := newFixture(t, Options{Period: time.Second})
	f.join("member1")
	f.probe("member1", 0, true)
	obj, _, _ := f.c.informer.GetIndexer().GetByKey("member1")
	if err := f.c.informer.GetIndexer().Delete(obj); err != nil {
		t.Fatal(err)
	}
	if err := f.c.sync(context.Background(), "member1"); err != nil {
		t.Fatal(err)
	}
	f.c.health.mu.Lock()
	defer f.c.health.mu.Unlock()
	if len(f.c.health.clusters) != 0 {
		t.Errorf("health of a deleted cluster kept: %+v", f.c.health.clusters)
	}
}

func TestHealthCache(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	readyCluster := func(uid types.UID) *clusterv1alpha1.Cluster {
		c := &clusterv1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "member1", UID: uid}}
		c.Status.Conditions = []metav1.Condition{{Type: clusterv1alpha1.ClusterConditionReady, Status: metav1.ConditionTrue}}
		return c
	}
	h := newHealthCache(30*time.Second, 30*time.Second)
	if held, _ := h.hold(readyCluster("a"), false, t0); !held {
		t.Error("first failure of a Ready cluster not held")
	}
	if held, since := h.hold(readyCluster("a"), false, t0.Add(29*time.Second)); !held || !since.Equal(t0) {
		t.Errorf("29s of failures: held %v since %s, want held since %s", held, since, t0)
	}
	// The same name joined again: a new observation.
	if held, since := h.hold(readyCluster("b"), false, t0.Add(31*time.Second)); !held || !since.Equal(t0.Add(31*time.Second)) {
		t.Errorf("rejoined cluster: held %v since %s, want held since its first probe", held, since)
	}
	if held, _ := h.hold(readyCluster("b"), false, t0.Add(61*time.Second)); held {
		t.Error("30s of failures still held")
	}
	h.forget("member1")
	if held, _ := h.hold(readyCluster("b"), false, t0.Add(62*time.Second)); !held {
		t.Error("a forgotten cluster kept its observation")
	}
}

func TestHealthCacheConcurrentUse(t *testing.T) {
	h := newHealthCache(time.Second, time.Second)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 200 {
				c := &clusterv1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("member%d", i%3)}}
				h.hold(c, (i+w)%2 == 0, t0.Add(time.Duration(i)*time.Millisecond))
				if i%50 == 0 {
					h.forget(c.Name)
				}
			}
		})
	}
	wg.Wait()
}
