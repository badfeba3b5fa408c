package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/fleetgate/fleetgate/localenv"
)

const benchNS = "fleetgate-bench"

// path is one way to reach the host: a client plus the processes whose CPU it is charged with.
type path struct {
	name   string
	client kubernetes.Interface
	lat    []time.Duration
	count  int
	wall   time.Duration
	cpu    map[string]time.Duration // process name → CPU time during this path's turns
}

func newPath(name string, cfg *rest.Config) (*path, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = -1, 0 // no client-side rate limit
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &path{name: name, client: c, cpu: map[string]time.Duration{}}, nil
}

type scenario struct {
	name        string
	concurrency int
	do          func(ctx context.Context, c kubernetes.Interface) error
}

func gatewayVsDirect(ctx context.Context, env *localenv.Env, o options, out io.Writer) error {
	if err := seed(ctx, env.Host.Config, o.listSize); err != nil {
		return err
	}
	pids := map[string]int{}
	for _, u := range env.Usage() {
		if u.Name == "gateway" || u.Name == "host-kube-apiserver" {
			pids[u.Name] = u.PID
		}
	}
	if len(pids) != 2 {
		return fmt.Errorf("gateway and host apiserver processes not found: %v", env.Usage())
	}
	get := func(ctx context.Context, c kubernetes.Interface) error {
		_, err := c.CoreV1().ConfigMaps(benchNS).Get(ctx, "one", metav1.GetOptions{})
		return err
	}
	list := func(ctx context.Context, c kubernetes.Interface) error {
		l, err := c.CoreV1().ConfigMaps(benchNS).List(ctx, metav1.ListOptions{LabelSelector: "bench=list"})
		if err == nil && len(l.Items) != o.listSize {
			err = fmt.Errorf("list returned %d items, want %d", len(l.Items), o.listSize)
		}
		return err
	}
	scenarios := []scenario{
		{"GET configmap", 1, get},
		{"GET configmap", 32, get},
		{fmt.Sprintf("LIST %d configmaps", o.listSize), 1, list},
		{fmt.Sprintf("LIST %d configmaps", o.listSize), 32, list},
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tclients\tdirect p50\tgateway p50\tp50 ×\tp99 ×\tthroughput ×\tA/A p50 ×\tA/A thr ×\tgw CPU ms/req\tapiserver CPU ms/req (direct)\t")
	for _, s := range scenarios {
		direct, err := newPath("direct", env.Host.Config)
		if err != nil {
			return err
		}
		direct2, err := newPath("direct-again", env.Host.Config)
		if err != nil {
			return err
		}
		gw, err := newPath("gateway", env.GatewayConfig)
		if err != nil {
			return err
		}
		paths := []*path{direct, gw, direct2}
		for r := 0; r < o.rounds; r++ {
			for _, p := range paths {
				if err := turn(ctx, p, s, o.phase, pids); err != nil {
					return fmt.Errorf("%s via %s: %w", s.name, p.name, err)
				}
			}
		}
		dp50, gp50 := pct(direct.lat, 50), pct(gw.lat, 50)
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.3f\t%.3f (%.3f via gw)\t\n", s.name, s.concurrency,
			round(dp50), round(gp50),
			ratio(gp50, dp50), ratio(pct(gw.lat, 99), pct(direct.lat, 99)),
			gw.throughput()/direct.throughput(),
			ratio(pct(direct2.lat, 50), dp50), direct2.throughput()/direct.throughput(),
			gw.cpuPerReq("gateway"), direct.cpuPerReq("host-kube-apiserver"), gw.cpuPerReq("host-kube-apiserver"))
	}
	return tw.Flush()
}

// turn runs one path for d with s.concurrency workers, recording latencies and CPU.
func turn(ctx context.Context, p *path, s scenario, d time.Duration, pids map[string]int) error {
	before := cpuTimes(pids)
	start := time.Now()
	deadline := start.Add(d)
	var mu sync.Mutex
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range s.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local []time.Duration
			for time.Now().Before(deadline) {
				t0 := time.Now()
				if err := s.do(ctx, p.client); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			p.lat = append(p.lat, local...)
			p.count += len(local)
			mu.Unlock()
		}()
	}
	wg.Wait()
	p.wall += time.Since(start)
	after := cpuTimes(pids)
	for name := range pids {
		p.cpu[name] += after[name] - before[name]
	}
	if err, ok := firstErr.Load().(error); ok {
		return err
	}
	return nil
}

func (p *path) throughput() float64 { return float64(p.count) / p.wall.Seconds() }

func (p *path) cpuPerReq(process string) float64 {
	return float64(p.cpu[process].Microseconds()) / 1000 / float64(p.count)
}

// cpuTimes reads utime+stime of each process from /proc/<pid>/stat.
func cpuTimes(pids map[string]int) map[string]time.Duration {
	const ticks = 100 // USER_HZ on Linux
	out := map[string]time.Duration{}
	for name, pid := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue
		}
		// Fields after the parenthesised command: state is field 3; utime 14, stime 15.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		out[name] = time.Duration(ut+st) * time.Second / ticks
	}
	return out
}

func seed(ctx context.Context, cfg *rest.Config, n int) error {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = -1, 0
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: benchNS}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	mk := func(name string, labels map[string]string) error {
		_, err := c.CoreV1().ConfigMaps(benchNS).Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
			Data:       map[string]string{"key": strings.Repeat("v", 256)},
		}, metav1.CreateOptions{})
		return err
	}
	if err := mk("one", nil); err != nil {
		return err
	}
	for i := range n {
		if err := mk(fmt.Sprintf("item-%04d", i), map[string]string{"bench": "list"}); err != nil {
			return err
		}
	}
	return nil
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[(len(s)-1)*p/100]
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }

func round(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }

// gatewayCPUProfile fetches a 10s CPU profile from the gateway (started with --profiling), as the
// environment's admin.
func gatewayCPUProfile(ctx context.Context, env *localenv.Env) ([]byte, error) {
	hc, err := rest.HTTPClientFor(env.GatewayConfig)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, env.GatewayURL+"/debug/pprof/profile?seconds=10", nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	prof, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("gateway CPU profile: %s: %s", resp.Status, bytes.TrimSpace(prof[:min(len(prof), 512)]))
	}
	return prof, nil
}
