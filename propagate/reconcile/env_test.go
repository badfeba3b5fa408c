package reconcile_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/fleetgate/fleetgate/apis/client"
	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	"github.com/fleetgate/fleetgate/apis/crds"
	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	workv1alpha2 "github.com/fleetgate/fleetgate/apis/work/v1alpha2"
	"github.com/fleetgate/fleetgate/bootstrap"
	"github.com/fleetgate/fleetgate/bootstrap/access"
	"github.com/fleetgate/fleetgate/localenv"
	"github.com/fleetgate/fleetgate/propagate/clusterstatus"
	"github.com/fleetgate/fleetgate/propagate/member"
	"github.com/fleetgate/fleetgate/propagate/reconcile"
)

// One environment (host + two bare members joined in Push mode, cluster health probed every
// second) is shared by the package's integration tests; each test runs its own reconciler(s) and
// works in its own namespace.

var (
	envOnce  sync.Once
	envErr   error
	shared   *testEnv
	stopEnvs []func()
)

func TestMain(m *testing.M) {
	klog.InitFlags(nil) // -v=2 shows the reconciler's retries
	flag.Parse()
	code := m.Run()
	for _, stop := range stopEnvs {
		stop()
	}
	os.Exit(code)
}

type testEnv struct {
	env     *localenv.Env
	host    dynamic.Interface
	kube    kubernetes.Interface
	members map[string]dynamic.Interface // admin clients
	// memberWrites counts the reconciler's non-GET requests to members; hostWrites to the host.
	memberWrites, hostWrites atomic.Int64
	// hostLog holds the host writes (method and path), memberLog the member writes (cluster,
	// method and path), for a test to show what they were.
	hostLog, memberLog writeLog
	// memberReads holds the member reads (cluster, GET and path).
	memberReads writeLog
}

// writeLog records requests, in order.
type writeLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *writeLog) add(prefix string, r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, prefix+r.Method+" "+r.URL.Path)
}

// since returns the writes after the first n.
func (l *writeLog) since(n int64) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if int(n) >= len(l.lines) {
		return nil
	}
	return slices.Clone(l.lines[n:])
}

// sharedEnv starts the environment on first use (skipping in -short mode).
func sharedEnv(t *testing.T) *testEnv {
	t.Helper()
	if testing.Short() {
		t.Skip("starts real binaries")
	}
	envOnce.Do(func() {
		began := time.Now()
		shared, envErr = startEnv()
		t.Logf("environment (host, 2 members joined and Ready) started in %s", time.Since(began).Round(100*time.Millisecond))
	})
	if envErr != nil {
		t.Fatal(envErr)
	}
	return shared
}

func startEnv() (*testEnv, error) {
	dir, err := os.MkdirTemp("", "reconcile-test-")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out bytes.Buffer
	env, err := localenv.Start(ctx, localenv.Options{Dir: dir, Members: []localenv.MemberOptions{{Name: "member1"}, {Name: "member2"}}, Out: &out})
	if err != nil {
		return nil, fmt.Errorf("start environment: %v\n%s", err, out.String())
	}
	runCtx, stopRun := context.WithCancel(context.Background())
	stopEnvs = append(stopEnvs, func() {
		stopRun()
		_ = env.Stop()
		_ = os.RemoveAll(dir)
	})
	e := &testEnv{env: env, members: map[string]dynamic.Interface{}}
	hostCfg := rest.CopyConfig(env.Host.Config)
	hostCfg.QPS, hostCfg.Burst = 1000, 2000
	if e.kube, err = kubernetes.NewForConfig(hostCfg); err != nil {
		return nil, err
	}
	if e.host, err = dynamic.NewForConfig(hostCfg); err != nil {
		return nil, err
	}
	if err := crds.Install(ctx, env.Host.Config); err != nil {
		return nil, err
	}
	for _, m := range env.Members {
		if err := bootstrap.Join(ctx, bootstrap.JoinOptions{Name: m.Name, Host: env.Host.Config, MemberKubeconfig: m.Kubeconfig}); err != nil {
			return nil, fmt.Errorf("join %s: %w", m.Name, err)
		}
		if e.members[m.Name], err = dynamic.NewForConfig(m.Config); err != nil {
			return nil, err
		}
	}
	status := clusterstatus.New(e.host, access.NewHost(client.Clusters(e.host), e.kube), clusterstatus.Options{Period: time.Second, FailureThreshold: new(3 * time.Second), SuccessThreshold: new(time.Second)})
	go func() { _ = status.Run(runCtx) }()
	for _, m := range env.Members {
		if err := e.waitReady(ctx, m.Name, true); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// waitReady waits until cluster's Ready condition is (or is not) True.
func (e *testEnv) waitReady(ctx context.Context, cluster string, ready bool) error {
	var last error
	for ctx.Err() == nil {
		c, err := client.Clusters(e.host).Get(ctx, "", cluster)
		if err == nil && meta.IsStatusConditionTrue(c.Status.Conditions, clusterv1alpha1.ClusterConditionReady) == ready {
			return nil
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("cluster %s Ready=%v: %v (last error %v)", cluster, ready, ctx.Err(), last)
}

// counting counts the requests that are not reads.
type counting struct {
	next   http.RoundTripper
	n      *atomic.Int64
	log    *writeLog // when not nil, the writes are recorded there too
	reads  *writeLog // when not nil, the reads are recorded there
	prefix string    // of each recorded line
}

func (c counting) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet && c.reads != nil {
		c.reads.add(c.prefix, r)
	}
	if r.Method != http.MethodGet {
		c.n.Add(1)
		if c.log != nil {
			c.log.add(c.prefix, r)
		}
		if os.Getenv("FLEETGATE_TRACE_WRITES") != "" {
			fmt.Fprintln(os.Stderr, "WRITE", time.Now().Format("15:04:05.000"), r.Method, r.URL.Path)
		}
	}
	return c.next.RoundTrip(r)
}

type countingGetter struct {
	access.Getter
	n          *atomic.Int64
	log, reads *writeLog
}

func (g countingGetter) Config(ctx context.Context, cluster string) (*rest.Config, error) {
	cfg, err := g.Getter.Config(ctx, cluster)
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = reconcile.DefaultMemberQPS, reconcile.DefaultMemberBurst
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return counting{next: rt, n: g.n, log: g.log, reads: g.reads, prefix: cluster + ": "}
	})
	return cfg, nil
}

// startController runs a reconciler against the host until the returned stop is called (or the
// test ends) and waits until it has synced.
func (e *testEnv) startController(t *testing.T) (stop func()) {
	t.Helper()
	_, stop = e.startControllerWith(t, nil, nil)
	return stop
}

// startControllerWith is startController with options changed by tune and the controller
// prepared by setup before it runs (each when not nil); it returns the controller too.
func (e *testEnv) startControllerWith(t *testing.T, tune func(*reconcile.Options), setup func(*reconcile.Controller)) (_ *reconcile.Controller, stop func()) {
	t.Helper()
	hostCfg := rest.CopyConfig(e.env.Host.Config)
	hostCfg.QPS, hostCfg.Burst = 1000, 2000
	hostCfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return counting{next: rt, n: &e.hostWrites, log: &e.hostLog}
	})
	host, err := dynamic.NewForConfig(hostCfg)
	if err != nil {
		t.Fatal(err)
	}
	workers, _ := strconv.Atoi(os.Getenv("FLEETGATE_RECONCILE_WORKERS"))
	o := reconcile.Options{
		Host:           host,
		Kube:           e.kube,
		Members:        member.NewClients(countingGetter{Getter: access.NewHost(client.Clusters(e.host), e.kube), n: &e.memberWrites, log: &e.memberLog, reads: &e.memberReads}),
		Workers:        workers,
		ClusterWorkers: workers,
	}
	if tune != nil {
		tune(&o)
	}
	c := reconcile.New(o)
	if setup != nil {
		setup(c)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("reconciler: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	eventually(t, 30*time.Second, func() error {
		if !c.HasSynced() {
			return fmt.Errorf("reconciler not synced")
		}
		return nil
	})
	return c, stop
}

// eventually polls f until it returns nil or timeout passes.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	eventuallyEvery(t, timeout, 100*time.Millisecond, f)
}

func eventuallyEvery(t *testing.T, timeout, interval time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(interval)
	}
}

var (
	configMaps = corev1.SchemeGroupVersion.WithResource("configmaps")
	namespaces = corev1.SchemeGroupVersion.WithResource("namespaces")
	ppGVR      = policyv1alpha1.GroupVersion.WithResource("propagationpolicies")
	rbGVR      = workv1alpha2.GroupVersion.WithResource("resourcebindings")
)

func toUnstructured(t *testing.T, obj runtime.Object, gvk schema.GroupVersionKind) *unstructured.Unstructured {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(gvk)
	return u
}

// namespace creates a host namespace for one test (deleted at its end).
func (e *testEnv) namespace(t *testing.T, name string, labels map[string]string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	if _, err := e.kube.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// policy creates (or replaces) a PropagationPolicy.
func (e *testEnv) policy(t *testing.T, pp *policyv1alpha1.PropagationPolicy) {
	t.Helper()
	ctx := context.Background()
	u := toUnstructured(t, pp, policyv1alpha1.GroupVersion.WithKind("PropagationPolicy"))
	ri := e.host.Resource(ppGVR).Namespace(pp.Namespace)
	cur, err := ri.Get(ctx, pp.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = ri.Create(ctx, u, metav1.CreateOptions{})
	case err == nil:
		u.SetResourceVersion(cur.GetResourceVersion())
		_, err = ri.Update(ctx, u, metav1.UpdateOptions{})
	}
	if err != nil {
		t.Fatal(err)
	}
}

// configMapPolicy selects every ConfigMap of ns, placed on clusters (all when empty).
func configMapPolicy(ns string, clusters ...string) *policyv1alpha1.PropagationPolicy {
	pp := &policyv1alpha1.PropagationPolicy{ObjectMeta: metav1.ObjectMeta{Name: "cms", Namespace: ns}}
	pp.Spec.ResourceSelectors = []policyv1alpha1.ResourceSelector{{APIVersion: "v1", Kind: "ConfigMap"}}
	if len(clusters) > 0 {
		pp.Spec.Placement.ClusterAffinity = &policyv1alpha1.ClusterAffinity{ClusterNames: clusters}
	}
	return pp
}

func (e *testEnv) createConfigMap(t *testing.T, ns, name string, data map[string]string) {
	t.Helper()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Data: data}
	if _, err := e.kube.CoreV1().ConfigMaps(ns).Create(context.Background(), cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// memberObject reads an object from a member (nil when it does not exist).
func (e *testEnv) memberObject(cluster string, gvr schema.GroupVersionResource, ns, name string) (*unstructured.Unstructured, error) {
	u, err := e.members[cluster].Resource(gvr).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return u, err
}

// hasCopy says whether cluster holds fleetgate's copy of ns/name with data key = value ("" = any).
func (e *testEnv) hasCopy(cluster string, gvr schema.GroupVersionResource, ns, name, key, value string) error {
	u, err := e.memberObject(cluster, gvr, ns, name)
	switch {
	case err != nil:
		return err
	case u == nil:
		return fmt.Errorf("%s: %s %s/%s missing", cluster, gvr.Resource, ns, name)
	case !member.IsManaged(u):
		return fmt.Errorf("%s: %s %s/%s not managed", cluster, gvr.Resource, ns, name)
	}
	if key != "" {
		if v, _, _ := unstructured.NestedString(u.Object, "data", key); v != value {
			return fmt.Errorf("%s: %s %s/%s data[%s] = %q, want %q", cluster, gvr.Resource, ns, name, key, v, value)
		}
	}
	return nil
}

// noCopy says whether cluster holds no object ns/name (or one being deleted).
func (e *testEnv) noCopy(cluster string, gvr schema.GroupVersionResource, ns, name string) error {
	u, err := e.memberObject(cluster, gvr, ns, name)
	switch {
	case err != nil:
		return err
	case u != nil && u.GetDeletionTimestamp() == nil:
		return fmt.Errorf("%s: %s %s/%s still there", cluster, gvr.Resource, ns, name)
	}
	return nil
}

// binding reads a ResourceBinding.
func (e *testEnv) binding(t *testing.T, ns, name string) (*workv1alpha2.ResourceBinding, error) {
	t.Helper()
	u, err := e.host.Resource(rbGVR).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return client.FromUnstructured[workv1alpha2.ResourceBinding](u)
}

// fullyApplied checks that binding ns/name says FullyApplied on exactly clusters.
func (e *testEnv) fullyApplied(t *testing.T, ns, name string, clusters ...string) error {
	b, err := e.binding(t, ns, name)
	if err != nil {
		return err
	}
	if !meta.IsStatusConditionTrue(b.Status.Conditions, workv1alpha2.FullyApplied) {
		return fmt.Errorf("binding %s/%s not FullyApplied: %+v", ns, name, b.Status)
	}
	var got []string
	for _, c := range b.Spec.Clusters {
		got = append(got, c.Name)
	}
	if fmt.Sprint(got) != fmt.Sprint(clusters) {
		return fmt.Errorf("binding %s/%s clusters %v, want %v", ns, name, got, clusters)
	}
	return nil
}

// reportsUnmanaged is nil once binding ns/name reports that cluster holds an object of that name
// that fleetgate does not manage (a conflict under Abort).
func (e *testEnv) reportsUnmanaged(t *testing.T, ns, name, cluster string) error {
	b, err := e.binding(t, ns, name)
	if err != nil {
		return err
	}
	for _, it := range b.Status.AggregatedStatus {
		if it.ClusterName == cluster && !it.Applied && strings.Contains(it.AppliedMessage, "not managed by fleetgate") {
			return nil
		}
	}
	return fmt.Errorf("binding %s/%s does not report the conflict in %s: %+v", ns, name, cluster, b.Status.AggregatedStatus)
}

// events returns "<type> <reason> <message>" of the events on a ConfigMap (or other object) name.
func (e *testEnv) events(t *testing.T, ns, name string) []string {
	t.Helper()
	l, err := e.kube.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=" + name})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range l.Items {
		out = append(out, ev.Type+" "+ev.Reason+" "+ev.Message)
	}
	return out
}
