package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"github.com/fleetgate/fleetgate/localenv"
)

const (
	memNamespace = "bench-memory"
	// memWorkers create the templates in the host.
	memWorkers = 16
	// memPollEvery is how often the members' copies and the bindings are counted while waiting.
	memPollEvery     = 3 * time.Second
	memProgressEvery = 30 * time.Second
	// memQuietReads is how many reads in a row (one second apart) must find every queue empty.
	memQuietReads = 3
	// A wait for propagation allows memWaitBase plus memPerWrite for every member write.
	memWaitBase = 5 * time.Minute
	memPerWrite = 10 * time.Millisecond
	// memManaged selects fleetgate's copies in a member (member.LabelManaged).
	memManaged = "fleetgate.io/managed=true"
)

var (
	deploymentsGVR         = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	propagationPoliciesGVR = schema.GroupVersionResource{Group: "policy.karmada.io", Version: "v1alpha1", Resource: "propagationpolicies"}
)

// memoryBench measures the gateway's memory (issue 11 §4): with M = the largest of o.memClusters
// bare members joined in Push mode, and the others counts as placements. Readings, each after a
// forced GC and once the reconciler is quiet (every queue empty):
//
//   - no cluster joined, no template;
//   - c clusters joined (for every c of o.memClusters), no template;
//   - o.memTemplates Deployments created straight in the host (16 workers), in one namespace whose
//     PropagationPolicy names the first c clusters (clusterAffinity.clusterNames), once every one of
//     those members lists all copies and every binding is FullyApplied on c clusters; for every c
//     of o.memClusters in turn, the policy widened each time (all M clusters stay joined).
//
// Each reading is the gateway's VmRSS and VmHWM (/proc) and its Go heap from
// /debug/pprof/heap?gc=1 (--profiling): HeapAlloc after the GC (the live heap, exact), HeapInuse
// (live spans) and the heap profile's inuse_space total (sampled). The derived figures are printed
// from the live heap and from RSS.
func memoryBench(ctx context.Context, o options, out io.Writer) error {
	counts, err := parseCounts("-memory-clusters", o.memClusters)
	if err != nil {
		return err
	}
	if o.memTemplates < 1 {
		return fmt.Errorf("-memory-templates %d: want at least 1", o.memTemplates)
	}
	most := slices.Max(counts)
	env, gw, stop, err := withMembers(ctx, "fleetgate-bench-mem-", most, 0, "--profiling")
	if err != nil {
		return err
	}
	defer stop()
	direct, err := clientsFor(env.Host.Config)
	if err != nil {
		return err
	}
	gwPID := 0
	for _, u := range env.Usage() {
		if u.Name == "gateway" {
			gwPID = u.PID
		}
	}
	if gwPID == 0 {
		return fmt.Errorf("gateway process not found: %v", env.Usage())
	}
	gwHTTP, err := rest.HTTPClientFor(env.GatewayConfig)
	if err != nil {
		return err
	}
	mr := &memReader{url: env.GatewayURL, http: gwHTTP, pid: gwPID}
	began := time.Now()
	log := func(format string, a ...any) {
		fmt.Fprintf(os.Stderr, "memory bench %6s: %s\n", time.Since(began).Round(time.Second), fmt.Sprintf(format, a...))
	}
	var points []memPoint
	measure := func(joined, placed, templates int) error {
		if err := waitQuiet(ctx, gw, time.Minute); err != nil {
			return err
		}
		r, err := mr.read(ctx)
		if err != nil {
			return err
		}
		points = append(points, memPoint{joined: joined, placed: placed, templates: templates, memReading: r})
		log("%d joined, %d placed, %d templates: RSS %s, heap live %s", joined, placed, templates, mb(r.rss), mb(r.heapAlloc))
		return nil
	}
	if err := measure(0, 0, 0); err != nil {
		return err
	}
	joined := 0
	for _, n := range counts {
		if err := joinMembers(ctx, env, gw, joined, n); err != nil {
			return err
		}
		joined = n
		if err := measure(joined, 0, 0); err != nil {
			return err
		}
	}
	names := make([]string, len(env.Members))
	for i, m := range env.Members {
		names[i] = m.Name
	}
	if err := setupNamespace(ctx, gw, memNamespace, names[:counts[0]]); err != nil {
		return err
	}
	t0 := time.Now()
	if err := createTemplates(ctx, direct, o.memTemplates); err != nil {
		return err
	}
	log("%d Deployments created in the host in %s (%d workers)", o.memTemplates, time.Since(t0).Round(100*time.Millisecond), memWorkers)
	var reconciled []string
	for i, n := range counts {
		if i > 0 {
			if err := widenPolicy(ctx, gw, names[:n]); err != nil {
				return err
			}
		}
		t1 := time.Now()
		from := 0
		if i > 0 {
			from = counts[i-1]
		}
		wait := memWaitBase + time.Duration(o.memTemplates*(n-from))*memPerWrite
		if err := waitPropagated(ctx, env.Members[:n], direct, o.memTemplates, wait, log); err != nil {
			return err
		}
		el := time.Since(t1)
		if i == 0 {
			el = time.Since(t0)
		}
		since := "the first create"
		if i > 0 {
			since = "the policy was widened"
		}
		reconciled = append(reconciled, fmt.Sprintf("%d templates propagated to clusters %d-%d %s after %s (%.0f copies/s)",
			o.memTemplates, from+1, n, el.Round(time.Second), since, float64(o.memTemplates*(n-from))/el.Seconds()))
		if err := measure(most, n, o.memTemplates); err != nil {
			return err
		}
	}
	if o.memProfile != "" {
		prof, err := mr.get(ctx, "/debug/pprof/heap?gc=1")
		if err != nil {
			return err
		}
		if err := os.WriteFile(o.memProfile, prof, 0o644); err != nil {
			return err
		}
	}
	return printMemory(out, points, counts, o, reconciled, env)
}

// memPoint is one reading with where it was taken.
type memPoint struct {
	joined, placed, templates int
	memReading
}

// memReading is the gateway's memory at one moment.
type memReading struct {
	rss, hwm             int64 // VmRSS, VmHWM (peak since start)
	heapAlloc, heapInuse int64 // runtime.MemStats after the forced GC
	profInuse            int64 // the heap profile's inuse_space total (sampled, scaled)
}

// memReader reads the gateway's memory: /proc/<pid>/status and /debug/pprof/heap.
type memReader struct {
	url  string
	http *http.Client
	pid  int
}

func (m *memReader) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.url+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := m.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(b[:min(len(b), 512)])))
	}
	return b, nil
}

// read forces a GC (heap?gc=1) and reads the heap profile's text form: its first line
// "heap profile: <inuse objects>: <inuse bytes> [<alloc objects>: <alloc bytes>] @ heap/<rate>",
// one line "<inuse objects>: <inuse bytes> [<alloc objects>: <alloc bytes>] @ <stack>" per
// sampled stack (unscaled: the inuse_space total is their sum, each scaled as pprof's proto form
// scales it), and the runtime.MemStats lines "# HeapAlloc = <n>", "# HeapInuse = <n>" at its end;
// then the process's RSS.
func (m *memReader) read(ctx context.Context) (memReading, error) {
	b, err := m.get(ctx, "/debug/pprof/heap?gc=1&debug=1")
	if err != nil {
		return memReading{}, err
	}
	var r memReading
	s := bufio.NewScanner(strings.NewReader(string(b)))
	s.Buffer(make([]byte, 1<<20), 1<<20)
	rate := int64(0)
	for s.Scan() {
		l := s.Text()
		if rate == 0 {
			f := strings.Fields(l) // heap profile: N: B [N: B] @ heap/R
			if len(f) != 8 || f[0] != "heap" || f[1] != "profile:" || !strings.HasPrefix(f[7], "heap/") {
				return r, fmt.Errorf("heap profile: unexpected first line %q", l)
			}
			if rate, err = strconv.ParseInt(strings.TrimPrefix(f[7], "heap/"), 10, 64); err != nil || rate < 1 {
				return r, fmt.Errorf("heap profile: first line %q: sampling rate %v", l, err)
			}
			continue
		}
		if v, ok := strings.CutPrefix(l, "# HeapAlloc = "); ok {
			r.heapAlloc, _ = strconv.ParseInt(v, 10, 64)
			continue
		}
		if v, ok := strings.CutPrefix(l, "# HeapInuse = "); ok {
			r.heapInuse, _ = strconv.ParseInt(v, 10, 64)
			continue
		}
		f := strings.Fields(l) // N: B [N: B] @ stack
		if len(f) < 5 || f[4] != "@" || !strings.HasSuffix(f[0], ":") {
			continue
		}
		count, err1 := strconv.ParseInt(strings.TrimSuffix(f[0], ":"), 10, 64)
		size, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil || count == 0 || size == 0 {
			continue
		}
		// runtime/pprof's scaleHeapSample: a sample stands for 1/(1-e^(-avg/rate)) allocations.
		r.profInuse += int64(float64(size) / (1 - math.Exp(-float64(size)/float64(count)/float64(rate))))
	}
	if err := s.Err(); err != nil {
		return r, err
	}
	if r.heapAlloc == 0 || r.heapInuse == 0 {
		return r, errors.New("heap profile: no HeapAlloc/HeapInuse in its MemStats")
	}
	r.rss, r.hwm = statusBytes(m.pid, "VmRSS:"), statusBytes(m.pid, "VmHWM:")
	if r.rss == 0 {
		return r, fmt.Errorf("gateway (pid %d): no VmRSS", m.pid)
	}
	return r, nil
}

// widenPolicy sets the policy's clusterNames to clusters.
func widenPolicy(ctx context.Context, gw *clients, clusters []string) error {
	patch := fmt.Sprintf(`{"spec":{"placement":{"clusterAffinity":{"clusterNames":%s}}}}`, jsonStrings(clusters))
	_, err := gw.dyn.Resource(propagationPoliciesGVR).Namespace(memNamespace).Patch(ctx, "all", types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	return err
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func jsonStrings(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = strconv.Quote(v)
	}
	return "[" + strings.Join(q, ",") + "]"
}

// createTemplates creates n Deployments t-00000… in memNamespace straight in the host, with
// memWorkers workers.
func createTemplates(ctx context.Context, host *clients, n int) error {
	jobs := make(chan int)
	errs := make([]error, memWorkers)
	var wg sync.WaitGroup
	for w := range errs {
		wg.Go(func() {
			for i := range jobs {
				if errs[w] != nil {
					continue
				}
				_, errs[w] = host.kube.AppsV1().Deployments(memNamespace).Create(ctx, newDeployment(fmt.Sprintf("t-%05d", i)), metav1.CreateOptions{})
			}
		})
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return errors.Join(errs...)
}

// waitPropagated waits until every one of members lists n managed Deployment copies in
// memNamespace, then until every binding there is FullyApplied on len(members) clusters.
func waitPropagated(ctx context.Context, members []*localenv.Cluster, host *clients, n int, timeout time.Duration, log func(string, ...any)) error {
	deadline := time.Now().Add(timeout)
	mds := make([]metadata.Interface, len(members))
	for i, m := range members {
		cfg := rest.CopyConfig(m.Config)
		cfg.QPS, cfg.Burst = -1, 0
		md, err := metadata.NewForConfig(cfg)
		if err != nil {
			return err
		}
		mds[i] = md
	}
	lastLog := time.Now()
	for {
		var missing []string
		for i, md := range mds {
			l, err := md.Resource(deploymentsGVR).Namespace(memNamespace).List(ctx, metav1.ListOptions{LabelSelector: memManaged, ResourceVersion: "0"})
			switch {
			case err != nil:
				missing = append(missing, fmt.Sprintf("%s: %v", members[i].Name, err))
			case len(l.Items) < n:
				missing = append(missing, fmt.Sprintf("%s %d/%d", members[i].Name, len(l.Items), n))
			}
		}
		if len(missing) == 0 {
			done, err := bindingsApplied(ctx, host, len(members))
			if err == nil && done >= n {
				return nil
			}
			missing = append(missing, fmt.Sprintf("bindings FullyApplied on %d clusters %d/%d (%v)", len(members), done, n, err))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not propagated after %s: %s", timeout, strings.Join(missing, ", "))
		}
		if time.Since(lastLog) >= memProgressEvery {
			log("waiting: %s", strings.Join(missing, ", "))
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(memPollEvery):
		}
	}
}

// bindingsApplied counts memNamespace's bindings that are FullyApplied on exactly n clusters.
func bindingsApplied(ctx context.Context, host *clients, n int) (int, error) {
	l, err := host.dyn.Resource(bindingGVR).Namespace(memNamespace).List(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		return 0, err
	}
	done := 0
	for _, b := range l.Items {
		clusters, _, _ := unstructured.NestedSlice(b.Object, "spec", "clusters")
		if len(clusters) != n {
			continue
		}
		conds, _, _ := unstructured.NestedSlice(b.Object, "status", "conditions")
		for _, x := range conds {
			if m, _ := x.(map[string]any); m["type"] == "FullyApplied" && m["status"] == "True" {
				done++
			}
		}
	}
	return done, nil
}

// waitQuiet waits until every work queue of the gateway (workqueue_depth on its /metrics) is
// empty at memQuietReads reads in a row, one second apart.
func waitQuiet(ctx context.Context, gw *clients, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	quiet := 0
	for {
		raw, err := gw.kube.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
		var busy []string
		if err == nil {
			p := expfmt.NewTextParser(model.UTF8Validation)
			families, perr := p.TextToMetricFamilies(strings.NewReader(string(raw)))
			err = perr
			for _, m := range families["workqueue_depth"].GetMetric() {
				if v := m.GetGauge().GetValue(); v > 0 {
					busy = append(busy, fmt.Sprintf("%v=%v", m.GetLabel(), v))
				}
			}
		}
		if err == nil && len(busy) == 0 {
			quiet++
			if quiet >= memQuietReads {
				return nil
			}
		} else {
			quiet = 0
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gateway queues not empty after %s: %v (err %v)", timeout, busy, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// printMemory prints the readings and the figures derived from them.
func printMemory(out io.Writer, points []memPoint, counts []int, o options, reconciled []string, env *localenv.Env) error {
	most := slices.Max(counts)
	T := float64(o.memTemplates)
	fmt.Fprintf(out, "\ngateway memory (issue 11 §4): %d Deployments (templates) in one namespace, bare members joined in Push mode; MB = 10⁶ bytes\n", o.memTemplates)
	fmt.Fprintln(out, "each reading after a forced GC (/debug/pprof/heap?gc=1) with every work queue of the gateway empty;")
	fmt.Fprintln(out, "heap live = HeapAlloc after that GC; heap in use = HeapInuse (spans holding objects); profile = the heap profile's inuse_space (sampled)")
	fmt.Fprintf(out, "templates are placed on the first `placed` clusters (clusterAffinity.clusterNames); once templates exist, all %d clusters stay joined\n", most)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "clusters joined\tplaced\ttemplates\tRSS\tVmHWM\theap live\theap in use\tprofile inuse\t")
	for _, p := range points {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t\n", p.joined, p.placed, p.templates, mb(p.rss), mb(p.hwm), mb(p.heapAlloc), mb(p.heapInuse), mb(p.profInuse))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(out)
	for _, s := range reconciled {
		fmt.Fprintln(out, s)
	}
	find := func(joined, placed, templates int) memPoint {
		for _, p := range points {
			if p.joined == joined && p.placed == placed && p.templates == templates {
				return p
			}
		}
		panic(fmt.Sprintf("no reading %d/%d/%d", joined, placed, templates))
	}
	empty, base := find(0, 0, 0), find(most, 0, 0)
	fmt.Fprintf(out, "\nper joined cluster without templates (%d clusters joined vs none): heap live %s, RSS %s\n", most,
		kib(float64(base.heapAlloc-empty.heapAlloc)/float64(most)), kib(float64(base.rss-empty.rss)/float64(most)))
	fmt.Fprintf(out, "per template per cluster = (reading(T, N placed) − reading(0 templates, %d joined)) / (T × N); goal ≤ 2 KiB (2048 B):\n", most)
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "placed N\tfrom heap live\tfrom heap in use\tfrom profile\tfrom RSS\tgoal (heap live)\t")
	for _, n := range counts {
		p := find(most, n, o.memTemplates)
		d := T * float64(n)
		live := float64(p.heapAlloc-base.heapAlloc) / d
		verdict := "met"
		if live > 2048 {
			verdict = "NOT met"
		}
		fmt.Fprintf(tw, "%d\t%.0f B\t%.0f B\t%.0f B\t%.0f B\t%s\t\n", n, live, float64(p.heapInuse-base.heapInuse)/d,
			float64(p.profInuse-base.profInuse)/d, float64(p.rss-base.rss)/d, verdict)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for i := 1; i < len(counts); i++ {
		a, b := find(most, counts[i-1], o.memTemplates), find(most, counts[i], o.memTemplates)
		k := float64(counts[i] - counts[i-1])
		placedLive := float64(b.heapAlloc-a.heapAlloc) / k
		joinLive := float64(find(counts[i], 0, 0).heapAlloc-find(counts[i-1], 0, 0).heapAlloc) / k
		placedRSS := float64(b.rss-a.rss) / k
		joinRSS := float64(find(counts[i], 0, 0).rss-find(counts[i-1], 0, 0).rss) / k
		fmt.Fprintf(out, "per added cluster, %d → %d, with %d templates: heap live %s (placing the templates there %s = %.0f B per template, + joining it %s), RSS %s (%s + %s)\n",
			counts[i-1], counts[i], o.memTemplates, mb(int64(placedLive+joinLive)), mb(int64(placedLive)), placedLive/T, mb(int64(joinLive)),
			mb(int64(placedRSS+joinRSS)), mb(int64(placedRSS)), mb(int64(joinRSS)))
	}
	if o.memProfile != "" {
		fmt.Fprintf(out, "\ngateway heap profile at %d templates × %d clusters: %s\n  go tool pprof -top -sample_index=inuse_space %s %s\n",
			o.memTemplates, most, o.memProfile, env.BinDir+"/fleetgate", o.memProfile)
	}
	return nil
}

func kib(b float64) string { return fmt.Sprintf("%.1f KiB", b/1024) }
