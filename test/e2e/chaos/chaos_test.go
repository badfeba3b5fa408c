package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/fleetgate/fleetgate/localenv"
	"github.com/fleetgate/fleetgate/test/e2e/framework"
)

// convergeTimeout bounds the wait for the fleet to converge after a loop's faults. Member writes
// that failed are retried with backoff (up to 30s per member key, a minute for refusals).
const convergeTimeout = 2 * time.Minute

// clients reach every door of the environment.
type clients struct {
	env       *localenv.Env
	gateway   kubernetes.Interface // protobuf, as kubectl sends built-in kinds
	host      kubernetes.Interface
	hostDyn   dynamic.Interface
	memberDyn map[string]dynamic.Interface
	metrics   func(ctx context.Context) (string, error)
}

func newClients(t *testing.T, env *localenv.Env) *clients {
	t.Helper()
	c := &clients{env: env, memberDyn: map[string]dynamic.Interface{}}
	fast := func(cfg *rest.Config) *rest.Config {
		cfg = rest.CopyConfig(cfg)
		cfg.QPS, cfg.Burst, cfg.Timeout = 100, 200, 10*time.Second
		return cfg
	}
	gw := fast(env.GatewayConfig)
	gw.ContentType = "application/vnd.kubernetes.protobuf"
	gw.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	c.gateway = kubernetes.NewForConfigOrDie(gw)
	c.host = kubernetes.NewForConfigOrDie(fast(env.Host.Config))
	c.hostDyn = dynamic.NewForConfigOrDie(fast(env.Host.Config))
	for _, m := range members {
		c.memberDyn[m] = dynamic.NewForConfigOrDie(fast(env.Member(m).Config))
	}
	httpClient, err := rest.HTTPClientFor(env.GatewayConfig)
	if err != nil {
		t.Fatal(err)
	}
	c.metrics = scraper(httpClient, env.GatewayURL+"/metrics")
	return c
}

// TestChaos runs CHAOS_LOOPS loops (default 2) of concurrent template writes and faults, each
// followed by a bounded wait for the fleet to converge; it stops at the first divergence.
func TestChaos(t *testing.T) {
	loops, base := envInt(t, "CHAOS_LOOPS", 2), envInt(t, "CHAOS_SEED", 1)
	only := envList(t, "CHAOS_FAULTS")
	c := newClients(t, framework.Env)
	q := &quietMeter{host: c.host, metrics: c.metrics}
	if err := q.calibrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	metrics := "exported"
	if q.noQueueMetrics {
		metrics = "not exported by /metrics (checking etcd writes only)"
	}
	t.Logf("idle environment: %d writes in %s; workqueue metrics %s", q.idle, quietWindow, metrics)
	r := &runner{t: t, c: c, quiet: q, only: only}
	for i := 1; i <= loops; i++ {
		seed := base + i - 1
		res := r.loop(i, loops, seed)
		if len(res.divergences) > 0 {
			t.Logf("soak: %d of %d loops, %d divergences in loop %d (seed %d, %s)", i, loops, len(res.divergences), i, seed, res.phase)
			t.Fatalf("loop %d/%d (seed %d, replay with CHAOS_SEED=%d CHAOS_LOOPS=1): %d divergences %s, still there after %s:\n%s",
				i, loops, seed, seed, len(res.divergences), res.phase, convergeTimeout, formatDivergences(res.divergences))
		}
		t.Logf("loop %d/%d ok (%d templates, %d faults, converged in %.1fs)", i, loops, res.templates, res.faults, res.converged.Seconds())
	}
	t.Logf("soak: %d loops, 0 divergences", loops)
}

func envInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q: want a non-negative integer", name, s)
	}
	return n
}

// envList reads a comma-separated list of fault names (CHAOS_FAULTS=pause,restart runs only those).
func envList(t *testing.T, name string) []string {
	s := os.Getenv(name)
	if s == "" {
		return nil
	}
	list := strings.Split(s, ",")
	for _, f := range list {
		if !slices.Contains(faultNames, f) {
			t.Fatalf("%s=%q: unknown fault %q (known: %s)", name, s, f, strings.Join(faultNames, ","))
		}
	}
	return list
}

// runner runs loops; namespaces are those of every loop so far, all checked after each loop.
type runner struct {
	t          *testing.T
	c          *clients
	quiet      *quietMeter
	only       []string // CHAOS_FAULTS
	namespaces []string
}

// loopResult is what a loop found.
type loopResult struct {
	templates, faults int
	converged         time.Duration
	phase             string // "before the faults" or "after the faults"
	divergences       []divergence
}

// loop sets up its namespace (policy and steady templates, converged), then writes templates
// through both doors while the faults run one after the other, then waits for convergence.
func (r *runner) loop(i, loops, seed int) loopResult {
	t, ctx := r.t, r.t.Context()
	ns := fmt.Sprintf("chaos-%d", seed)
	t.Logf("loop %d/%d: seed %d, namespace %s (replay with CHAOS_SEED=%d CHAOS_LOOPS=1)", i, loops, seed, ns, seed)
	r.setup(ns)
	if _, _, ds := r.converge(ctx); len(ds) > 0 {
		return loopResult{phase: "before the faults", divergences: ds}
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	writers := []*writer{
		{via: "gateway", client: r.c.gateway, ns: ns, rng: rand.New(rand.NewPCG(uint64(seed), 1))},
		{via: "host", client: r.c.host, ns: ns, rng: rand.New(rand.NewPCG(uint64(seed), 2))},
	}
	began := time.Now()
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, w := range writers {
		wg.Go(func() { w.run(wctx) })
	}
	faults := faultPlan(rng, r.c.env, r.c, ns, r.only)
	err := r.runFaults(ctx, rng, faults)
	stop()
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("  writes: gateway %s; host %s; faults and writes took %s", &writers[0].stats, &writers[1].stats, time.Since(began).Round(100*time.Millisecond))
	elapsed, s, ds := r.converge(ctx)
	if len(ds) == 0 {
		t.Logf("  quiet: %s", r.quiet.last.describe(queueNames()))
	}
	res := loopResult{faults: len(faults), converged: elapsed, phase: "after the faults", divergences: ds}
	if s != nil {
		for k := range s.host {
			if k.namespace == ns {
				res.templates++
			}
		}
	}
	return res
}

// setup creates the loop's namespace through the gateway, its policy with kubectl and the steady
// templates through the gateway.
func (r *runner) setup(ns string) {
	t, ctx := r.t, r.t.Context()
	if _, err := r.c.gateway.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", ns, err)
	}
	framework.Apply(t, r.c.env.GatewayKubeconfig, fmt.Sprintf(`apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {name: chaos, namespace: %s}
spec:
  resourceSelectors:
  - {apiVersion: v1, kind: ConfigMap}
  - {apiVersion: apps/v1, kind: Deployment}
  placement:
    clusterAffinity: {clusterNames: [%s, %s]}
    replicaScheduling: {replicaSchedulingType: Duplicated}
`, ns, members[0], members[1]))
	cms, deps := steadyObjects(ns)
	for _, cm := range cms {
		if _, err := r.c.gateway.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create ConfigMap %s/%s: %v", ns, cm.Name, err)
		}
	}
	for _, d := range deps {
		if _, err := r.c.gateway.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create Deployment %s/%s: %v", ns, d.Name, err)
		}
	}
	r.namespaces = append(r.namespaces, ns)
}

// runFaults runs the faults one after the other, a random 0.5–2s apart.
func (r *runner) runFaults(ctx context.Context, rng *rand.Rand, faults []fault) error {
	for n, f := range faults {
		sleep(ctx, time.Duration(500+rng.IntN(1500))*time.Millisecond)
		began := time.Now()
		what, err := f.run(ctx)
		if err != nil {
			return fmt.Errorf("fault %s: %w", f.name, err)
		}
		r.t.Logf("  fault %d/%d: %s (%s)", n+1, len(faults), what, time.Since(began).Round(100*time.Millisecond))
	}
	sleep(ctx, time.Duration(500+rng.IntN(1500))*time.Millisecond)
	return nil
}

// converge polls until the fleet matches the host and stays so through a quiet window, or
// convergeTimeout passes; it returns how long until the state first matched for good, the last
// snapshot and, on timeout, the last divergences.
// Each change in what diverges is logged, so that a slow convergence shows what was slow.
func (r *runner) converge(ctx context.Context) (time.Duration, *snapshot, []divergence) {
	began := time.Now()
	last := ""
	for {
		s, ds := r.checkOnce(ctx)
		if len(ds) == 0 {
			matched := time.Since(began)
			ds = r.checkQuiet(ctx)
			if len(ds) == 0 {
				if s, ds = r.checkOnce(ctx); len(ds) == 0 {
					return matched, s, nil
				}
			}
		}
		if h := headlines(ds); h != last {
			r.t.Logf("  after %s: %d divergences: %s", time.Since(began).Round(100*time.Millisecond), len(ds), h)
			last = h
		}
		if time.Since(began) > convergeTimeout || ctx.Err() != nil {
			return time.Since(began), s, ds
		}
		sleep(ctx, time.Second)
	}
}

// headlines names the first divergences in one line.
func headlines(ds []divergence) string {
	const max = 3
	var hs []string
	for i, d := range ds {
		if i == max {
			hs = append(hs, fmt.Sprintf("and %d more", len(ds)-max))
			break
		}
		hs = append(hs, d.cluster+" "+d.object+" "+d.problem)
	}
	return strings.Join(hs, "; ")
}

func (r *runner) checkOnce(ctx context.Context) (*snapshot, []divergence) {
	s, err := takeSnapshot(ctx, r.c)
	if err != nil {
		return nil, []divergence{{cluster: "test", object: "snapshot", problem: err.Error()}}
	}
	return s, s.check(r.namespaces)
}

func (r *runner) checkQuiet(ctx context.Context) []divergence {
	q, err := r.quiet.measure(ctx)
	if err != nil {
		return []divergence{{cluster: "test", object: "quiet window", problem: err.Error()}}
	}
	if p := r.quiet.problem(q, queueNames()); p != "" {
		return []divergence{{cluster: "fleet", object: "writes", problem: "not quiet after converging: " + p}}
	}
	return nil
}
