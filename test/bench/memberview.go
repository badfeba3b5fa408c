package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/fleetgate/fleetgate/localenv"
)

const (
	mvNamespace = "bench-memberview"
	// tableAccept is what kubectl get asks for (without its fallbacks).
	tableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io"
	// rssEvery is how often the gateway's VmRSS is sampled.
	rssEvery = 50 * time.Millisecond
)

// memberviewBench measures the merged member view of pods: a LIST of o.mvPods pods per member
// through the gateway (fanned out to every Ready member and merged) against LISTs of the members
// themselves, for N = o.mvMembers bare members joined in Push mode, as JSON and as a Table; and the
// gateway's RSS meanwhile. Paths per round: A the members directly, one after the other (the
// reference is the slowest member's latency), B the merged LIST through the gateway, P the N direct
// LISTs issued at once (the least work that returns the same data), A′ the members directly again
// with other connections (A′/A is the noise floor). Every request reads the whole body and does not
// decode it, so the client's decoding of N×pods items is charged to no path.
func memberviewBench(ctx context.Context, o options, out io.Writer) error {
	counts, err := parseCounts("-memberview-members", o.mvMembers)
	if err != nil {
		return err
	}
	most := slices.Max(counts)
	env, gw, stop, err := withMembers(ctx, "fleetgate-bench-mv-", most, 0, "--profiling")
	if err != nil {
		return err
	}
	defer stop()
	began := time.Now()
	if err := seedPods(ctx, env.Members, o.mvPods); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nmember view: %d pods created directly in each of %d members in %s (16 workers)\n", o.mvPods, most, time.Since(began).Round(100*time.Millisecond))
	gwPID, suiteBase := 0, int64(0)
	for _, u := range env.Usage() {
		if u.Name == "gateway" {
			gwPID, suiteBase = u.PID, u.RSS
		}
	}
	if gwPID == 0 {
		return fmt.Errorf("gateway process not found: %v", env.Usage())
	}
	gwRaw, err := newRawClient(env.GatewayConfig, mvNamespace)
	if err != nil {
		return err
	}
	formats := []struct{ name, accept string }{{"JSON", "application/json"}, {"Table", tableAccept}}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(out, "merged LIST of pods (GET /api/v1/namespaces/%s/pods, no limit): %d rounds × %s per path; latency until the body's last byte, not decoded\n",
		mvNamespace, o.rounds, o.phase)
	fmt.Fprintln(out, "A = each member directly, one after the other; p50/p99 are the slowest member's (the member with the highest p50)")
	fmt.Fprintln(out, "B = merged LIST through the gateway; P = the N direct LISTs at once, latency until all N are read; A′ = A again on other connections")
	fmt.Fprintln(out, "P ÷A above 1 is the members competing for this machine's CPUs: on one machine no gateway can beat P")
	fmt.Fprintln(out, "KiB/iter: bytes received per iteration (all N members' pods once); CPU ms/iter: CPU time of the gateway and of the N member apiservers per iteration")
	fmt.Fprintln(out, "(their idle background CPU included, so longer iterations carry more of it)")
	fmt.Fprintln(tw, "members\tformat\tpath\tsamples\tp50\tp99\tp50 ÷A\tp99 ÷A\tKiB/iter\tgzip\tgw CPU ms/iter\tmember apiservers CPU ms/iter\t")
	var summary, memory []string
	joined := 0
	for _, n := range counts {
		if err := joinMembers(ctx, env, gw, joined, n); err != nil {
			return err
		}
		joined = n
		members := env.Members[:n]
		want := map[string]int{}
		pids := map[string]int{"gateway": gwPID}
		for _, m := range members {
			want[m.Name] = o.mvPods
			pids[m.Name+"-kube-apiserver"] = 0
		}
		for _, u := range env.Usage() {
			if _, ok := pids[u.Name]; ok {
				pids[u.Name] = u.PID
			}
		}
		// The gateway's RSS from before its first merged LIST of this N until after its last.
		base := statusBytes(gwPID, "VmRSS:")
		hwmReset := os.WriteFile("/proc/"+strconv.Itoa(gwPID)+"/clear_refs", []byte("5"), 0) == nil
		rss := sampleRSS(gwPID, rssEvery)
		if err := waitMerged(ctx, gwRaw, want); err != nil {
			rss.stop()
			return err
		}
		for _, f := range formats {
			res, err := memberviewRounds(ctx, members, gwRaw, f.accept, o, pids)
			if err != nil {
				rss.stop()
				return fmt.Errorf("member view, %d members, %s: %w", n, f.name, err)
			}
			for _, p := range res.rows() {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\t%.2f\t%.2f\t%.0f\t%s\t%.1f\t%.1f\t\n", n, f.name, p.label, p.samples,
					round(p.p50), round(p.p99), ratio(p.p50, res.a.p50), ratio(p.p99, res.a.p99), p.kib, yesNo(p.gzip), p.gwCPU, p.memberCPU)
			}
			verdict := "met"
			if ratio(res.b.p50, res.a.p50) > 1.5 {
				verdict = "NOT met"
			}
			summary = append(summary, fmt.Sprintf("N=%d %-5s merged p50 %.2f× the slowest member's (goal ≤ 1.5×: %s), p99 %.2f×; against the %d direct LISTs at once p50 %.2f×, p99 %.2f×; noise floor A′/A p50 %.2f",
				n, f.name, ratio(res.b.p50, res.a.p50), verdict, ratio(res.b.p99, res.a.p99), n, ratio(res.b.p50, res.p.p50), ratio(res.b.p99, res.p.p99), ratio(res.a2.p50, res.a.p50)))
		}
		peak, samples := rss.stop()
		hwm := "VmHWM not reset"
		if hwmReset {
			hwm = fmt.Sprintf("kernel peak (VmHWM since the baseline) %s", mb(statusBytes(gwPID, "VmHWM:")))
		}
		verdict := "met"
		if peak-base > 50e6 {
			verdict = "NOT met"
		}
		memory = append(memory, fmt.Sprintf("N=%d: baseline %s before the first merged LIST, peak %s (%d samples every %s; %s), growth %s (goal ≤ 50 MB: %s)",
			n, mb(base), mb(peak), samples, rssEvery, hwm, mb(peak-base), verdict))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(out)
	for _, s := range summary {
		fmt.Fprintln(out, s)
	}
	fmt.Fprintf(out, "\ngateway RSS (MB = 10⁶ bytes), %s after the gateway started, before any member joined:\n", mb(suiteBase))
	for _, s := range memory {
		fmt.Fprintln(out, s)
	}
	if o.mvProfile != "" {
		return profileMerged(ctx, env, gwRaw, joined, o, out)
	}
	return nil
}

// mvResult is one block of rounds (one N, one format).
type mvResult struct {
	a, b, p, a2 mvRow
}

func (r mvResult) rows() []mvRow { return []mvRow{r.a, r.b, r.p, r.a2} }

// mvRow is one path's figures.
type mvRow struct {
	label            string
	samples          int
	p50, p99         time.Duration
	kib              float64
	gzip             bool
	gwCPU, memberCPU float64 // ms per iteration
}

// mvPath is a path of the member view benchmark: turn's bookkeeping plus what each member's LISTs took.
type mvPath struct {
	*path
	clients []*rawClient
	members [][]time.Duration // per member (A, A′)
	bytes   int64
	gzip    bool
}

func newMVPath(name string, clients []*rawClient) *mvPath {
	return &mvPath{path: &path{name: name, cpu: map[string]time.Duration{}}, clients: clients, members: make([][]time.Duration, len(clients))}
}

// sequential lists every member, one after the other.
func (p *mvPath) sequential(accept string) scenario {
	return scenario{name: p.name, concurrency: 1, do: func(ctx context.Context, _ kubernetes.Interface) error {
		for i, c := range p.clients {
			t0 := time.Now()
			n, gz, err := c.list(ctx, accept)
			if err != nil {
				return err
			}
			p.members[i] = append(p.members[i], time.Since(t0))
			p.bytes += n
			p.gzip = p.gzip || gz
		}
		return nil
	}}
}

// parallel lists every member at once and returns when all are read.
func (p *mvPath) parallel(accept string) scenario {
	return scenario{name: p.name, concurrency: 1, do: func(ctx context.Context, _ kubernetes.Interface) error {
		errs := make([]error, len(p.clients))
		sizes := make([]int64, len(p.clients))
		gzs := make([]bool, len(p.clients))
		var wg sync.WaitGroup
		for i, c := range p.clients {
			wg.Go(func() { sizes[i], gzs[i], errs[i] = c.list(ctx, accept) })
		}
		wg.Wait()
		for i := range p.clients {
			p.bytes += sizes[i]
			p.gzip = p.gzip || gzs[i]
		}
		return errors.Join(errs...)
	}}
}

// row summarises the path; for paths that list the members one by one, the slowest member's
// latencies.
func (p *mvPath) row(label string, names []string, pids map[string]int) mvRow {
	r := mvRow{label: label, samples: p.count, p50: pct(p.lat, 50), p99: pct(p.lat, 99), gzip: p.gzip}
	if p.count > 0 {
		r.kib = float64(p.bytes) / 1024 / float64(p.count)
		r.gwCPU = p.cpuPerReq("gateway")
		for name := range pids {
			if name != "gateway" {
				r.memberCPU += p.cpuPerReq(name)
			}
		}
	}
	if len(p.members[0]) > 0 {
		slowest := 0
		for i := range p.members {
			if pct(p.members[i], 50) > pct(p.members[slowest], 50) {
				slowest = i
			}
		}
		r.p50, r.p99 = pct(p.members[slowest], 50), pct(p.members[slowest], 99)
		r.label = fmt.Sprintf("%s (%s)", label, names[slowest])
	}
	return r
}

// memberviewRounds runs o.rounds rounds of A B P A′ for one format.
func memberviewRounds(ctx context.Context, members []*localenv.Cluster, gwRaw *rawClient, accept string, o options, pids map[string]int) (mvResult, error) {
	var sets [3][]*rawClient // A, P, A′: each its own connections
	names := make([]string, len(members))
	for i, m := range members {
		names[i] = m.Name
		for s := range sets {
			c, err := newRawClient(m.Config, mvNamespace)
			if err != nil {
				return mvResult{}, err
			}
			sets[s] = append(sets[s], c)
		}
	}
	a, p, a2 := newMVPath("direct", sets[0]), newMVPath("parallel", sets[1]), newMVPath("direct-again", sets[2])
	b := newMVPath("gateway", []*rawClient{gwRaw})
	gwScenario := scenario{name: "gateway", concurrency: 1, do: func(ctx context.Context, _ kubernetes.Interface) error {
		n, gz, err := gwRaw.list(ctx, accept)
		b.bytes += n
		b.gzip = b.gzip || gz
		return err
	}}
	order := []struct {
		p *mvPath
		s scenario
	}{{a, a.sequential(accept)}, {b, gwScenario}, {p, p.parallel(accept)}, {a2, a2.sequential(accept)}}
	// Warm up every connection (and the members' watch caches) untimed.
	for _, x := range order {
		if err := x.s.do(ctx, nil); err != nil {
			return mvResult{}, fmt.Errorf("warm-up via %s: %w", x.p.name, err)
		}
		x.p.bytes, x.p.gzip, x.p.members = 0, false, make([][]time.Duration, len(x.p.clients))
	}
	for r := 0; r < o.rounds; r++ {
		for _, x := range order {
			if err := turn(ctx, x.p.path, x.s, o.phase, pids); err != nil {
				return mvResult{}, fmt.Errorf("via %s: %w", x.p.name, err)
			}
		}
	}
	n := len(members)
	return mvResult{
		a:  a.row("A  direct, slowest member", names, pids),
		b:  b.row("B  gateway, merged", nil, pids),
		p:  p.row(fmt.Sprintf("P  %d direct at once (limit)", n), nil, pids),
		a2: a2.row("A′ direct again, slowest member", names, pids),
	}, nil
}

// rawClient GETs one namespace's pods from one apiserver (a member or the gateway) and reads the
// body without decoding it. Its transport is client-go's (HTTP/2, gzip asked for, as client-go
// does); there is no client-side rate limit.
type rawClient struct {
	url  string
	http *http.Client
}

func newRawClient(cfg *rest.Config, ns string) (*rawClient, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = -1, 0
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	return &rawClient{url: strings.TrimSuffix(cfg.Host, "/") + "/api/v1/namespaces/" + ns + "/pods", http: hc}, nil
}

// list reads the whole list and returns its size (after gunzip) and whether it came gzipped.
func (c *rawClient) list(ctx context.Context, accept string) (int64, bool, error) {
	resp, err := c.get(ctx, accept)
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	return n, resp.Uncompressed, err
}

func (c *rawClient) get(ctx context.Context, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s: %s", c.url, resp.Status, bytes.TrimSpace(b))
	}
	if w := resp.Header.Values("Warning"); len(w) > 0 {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: warnings %q", c.url, w) // a member left out: not the list to time
	}
	return resp, nil
}

// waitMerged waits until the gateway's merged list (JSON and Table) holds want[cluster] pods of
// every cluster, and no other: the gateway has seen the joined members become Ready.
func waitMerged(ctx context.Context, gwRaw *rawClient, want map[string]int) error {
	deadline := time.Now().Add(time.Minute)
	for {
		err := checkMerged(ctx, gwRaw, "application/json", want)
		if err == nil {
			err = checkMerged(ctx, gwRaw, tableAccept, want)
		}
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkMerged counts a merged list's items (or rows) per cluster: the annotation fleetgate.io/cluster
// of every item, or the CLUSTER cell first in every row.
func checkMerged(ctx context.Context, gwRaw *rawClient, accept string, want map[string]int) error {
	resp, err := gwRaw.get(ctx, accept)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var l struct {
		Kind  string `json:"kind"`
		Items []struct {
			Metadata struct {
				Annotations map[string]string `json:"annotations"`
			} `json:"metadata"`
		} `json:"items"`
		ColumnDefinitions []struct {
			Name string `json:"name"`
		} `json:"columnDefinitions"`
		Rows []struct {
			Cells []any `json:"cells"`
		} `json:"rows"`
	}
	if err := json.NewDecoder(bufio.NewReader(resp.Body)).Decode(&l); err != nil {
		return err
	}
	got := map[string]int{}
	if accept == tableAccept {
		if l.Kind != "Table" || len(l.ColumnDefinitions) == 0 || l.ColumnDefinitions[0].Name != "Cluster" {
			return fmt.Errorf("merged Table: kind %q, columns %v; want a Table with the Cluster column first", l.Kind, l.ColumnDefinitions)
		}
		for _, r := range l.Rows {
			if len(r.Cells) > 0 {
				c, _ := r.Cells[0].(string)
				got[c]++
			}
		}
	} else {
		for _, it := range l.Items {
			got[it.Metadata.Annotations["fleetgate.io/cluster"]]++
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		return fmt.Errorf("merged %s list: pods per cluster %v, want %v", accept, got, want)
	}
	return nil
}

// seedPods creates namespace mvNamespace, its default ServiceAccount (bare members have no
// controller to make it, and pods need it) and n pods in every member, straight in the members'
// apiservers with 16 workers. The pods are bound to a Node that does not exist: nothing schedules or
// runs them.
func seedPods(ctx context.Context, members []*localenv.Cluster, n int) error {
	kube := make([]kubernetes.Interface, len(members))
	for i, m := range members {
		c, err := clientsFor(m.Config)
		if err != nil {
			return err
		}
		kube[i] = c.kube
		if _, err := c.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: mvNamespace}}, metav1.CreateOptions{}); err != nil {
			return err
		}
		if _, err := c.kube.CoreV1().ServiceAccounts(mvNamespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	type job struct{ member, i int }
	jobs := make(chan job)
	errs := make([]error, 16)
	var wg sync.WaitGroup
	for w := range errs {
		wg.Go(func() {
			for j := range jobs {
				if errs[w] != nil {
					continue
				}
				_, errs[w] = kube[j.member].CoreV1().Pods(mvNamespace).Create(ctx, benchPod(members[j.member].Name, j.i), metav1.CreateOptions{})
			}
		})
	}
	for i := range n {
		for m := range members {
			jobs <- job{m, i}
		}
	}
	close(jobs)
	wg.Wait()
	return errors.Join(errs...)
}

// benchPod is a small, realistic pod, one of a Deployment's ten: one container with an image, a
// port, requests and limits, a probe and an env var; three labels; bound to one of ten Nodes.
func benchPod(member string, i int) *corev1.Pod {
	app := fmt.Sprintf("app-%d", i%10)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:   fmt.Sprintf("%s-7d9f8b6c5d-%05d", app, i),
			Labels: map[string]string{"app": app, "pod-template-hash": "7d9f8b6c5d", "tier": "web"},
		},
		Spec: corev1.PodSpec{
			NodeName: fmt.Sprintf("%s-node%d", member, i%10+1),
			Containers: []corev1.Container{{
				Name:  "app",
				Image: "registry.example.com/team/" + app + ":1.4.2",
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
				Env:   []corev1.EnvVar{{Name: "LOG_LEVEL", Value: "info"}},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
				},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http")}}, PeriodSeconds: 10},
			}},
		},
	}
}

// profileMerged takes a CPU profile of the gateway (/debug/pprof/profile, --profiling) for 10s while
// one client lists the merged JSON view in a loop, and writes it to o.mvProfile.
func profileMerged(ctx context.Context, env *localenv.Env, gwRaw *rawClient, n int, o options, out io.Writer) error {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var lists int
	var loadErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		for lctx.Err() == nil {
			if _, _, err := gwRaw.list(lctx, "application/json"); err != nil {
				if lctx.Err() == nil {
					loadErr = err
				}
				return
			}
			lists++
		}
	}()
	time.Sleep(500 * time.Millisecond) // the load is under way
	prof, err := gatewayCPUProfile(ctx, env)
	cancel()
	<-done
	if err != nil {
		return err
	}
	if loadErr != nil {
		return loadErr
	}
	if err := os.WriteFile(o.mvProfile, prof, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(out, "\ngateway CPU profile, 10s under merged JSON LISTs of %d members × %d pods (one client in a loop, %d lists): %s\n  go tool pprof -top %s %s\n",
		n, o.mvPods, lists, o.mvProfile, env.BinDir+"/fleetgate", o.mvProfile)
	return nil
}

// parseCounts reads flag (e.g. -memberview-members): comma-separated member counts, ascending.
func parseCounts(flag, s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || len(out) > 0 && n <= out[len(out)-1] {
			return nil, fmt.Errorf("%s %q: want ascending positive counts such as 2,5", flag, s)
		}
		out = append(out, n)
	}
	return out, nil
}

// rssSampler records the peak VmRSS of a process, read every interval.
type rssSampler struct {
	done    chan struct{}
	wg      sync.WaitGroup
	peak    int64
	samples int
}

func sampleRSS(pid int, every time.Duration) *rssSampler {
	s := &rssSampler{done: make(chan struct{})}
	s.wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if v := statusBytes(pid, "VmRSS:"); v > 0 {
				s.peak = max(s.peak, v)
				s.samples++
			}
			select {
			case <-s.done:
				return
			case <-t.C:
			}
		}
	})
	return s
}

// stop ends the sampling and returns the peak and the number of samples.
func (s *rssSampler) stop() (int64, int) {
	close(s.done)
	s.wg.Wait()
	return s.peak, s.samples
}

// statusBytes reads a "<field> <n> kB" line of /proc/<pid>/status; 0 if there is none.
func statusBytes(pid int, field string) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, field); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
