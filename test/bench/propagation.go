package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/fleetgate/fleetgate/bootstrap"
	"github.com/fleetgate/fleetgate/localenv"
)

// propagationBench measures, with N = 1, 2, 5, 10 bare members joined in Push mode, the latency of
// a Deployment create through the gateway (every member has it when the call returns) against
//   - the limit path: the template created on the host and its N member copies created directly on
//     the members, all at once (the least work that leaves the object everywhere), and
//   - one direct create on the host, twice (direct and direct′: their ratio is the A/A spread),
//
// the four paths taking turns create by create. It then counts the requests a gateway create makes
// (host, and per member) from the apiservers' apiserver_request_total, and finally measures the
// reconcile throughput after a gateway restart.
func propagationBench(ctx context.Context, o options, out io.Writer) error {
	dir, err := os.MkdirTemp("", "fleetgate-bench-prop-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ns := []int{1, 2, 5, 10}
	members := make([]localenv.MemberOptions, ns[len(ns)-1])
	var gatewayArgs []string
	if o.propGatewayArgs != "" {
		gatewayArgs = strings.Split(o.propGatewayArgs, ",")
	}
	env, err := localenv.Start(ctx, localenv.Options{Dir: dir, Gateway: true, GatewayArgs: gatewayArgs, Members: members, Out: os.Stderr})
	if err != nil {
		localenv.TailLogs(os.Stderr, dir, 40)
		return err
	}
	defer env.Stop()
	gw, err := clientsFor(env.GatewayConfig)
	if err != nil {
		return err
	}
	direct, err := clientsFor(env.Host.Config)
	if err != nil {
		return err
	}
	var memberClients []*clients
	for _, m := range env.Members {
		mc, err := clientsFor(m.Config)
		if err != nil {
			return err
		}
		memberClients = append(memberClients, mc)
	}
	fmt.Fprintf(out, "Deployment create, %d rounds × %d creates per path, paths taking turns; limit = host create ∥ N member creates\n", o.rounds, o.creates)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "members\tdirect p50\tlimit p50\tlimit p99\tgateway p50\tgateway p99\tgw/limit p50\tgw/limit p99\tgw/direct p50\tA/A p50\tA/A p99\t")
	type counted struct {
		n            int
		host, member requestCounts
		creates      int
		stages       string
		// cpuGateway and cpuLimit are the CPU time per create of every process of the
		// environment (host, etcd, members, gateway), by process, for gateway creates (up to the
		// binding recording every copy) and for limit-path creates.
		cpuGateway, cpuLimit map[string]time.Duration
	}
	pids := map[string]int{}
	for _, u := range env.Usage() {
		pids[u.Name] = u.PID
	}
	var counts []counted
	var earlier []string // the namespaces of the smaller N
	joined := 0
	for _, n := range ns {
		for ; joined < n; joined++ {
			m := env.Members[joined]
			if err := bootstrap.Join(ctx, bootstrap.JoinOptions{Name: m.Name, Host: env.GatewayConfig, MemberKubeconfig: m.Kubeconfig}); err != nil {
				return err
			}
		}
		if err := waitReady(ctx, gw.dyn, n); err != nil {
			return err
		}
		namespace := fmt.Sprintf("bench-n%d", n)
		if err := setupNamespace(ctx, gw, namespace, nil); err != nil {
			return err
		}
		if err := ensureNamespace(ctx, gw.kube, namespace+"-direct"); err != nil {
			return err
		}
		limitNS := namespace + "-limit"
		for _, c := range append([]*clients{direct}, memberClients[:n]...) {
			if err := ensureNamespace(ctx, c.kube, limitNS); err != nil {
				return err
			}
		}
		limit := func(name string) (time.Duration, error) {
			errs := make(chan error, n+1)
			t0 := time.Now()
			for _, c := range append([]*clients{direct}, memberClients[:n]...) {
				go func() {
					_, err := c.kube.AppsV1().Deployments(limitNS).Create(ctx, newDeployment(name), metav1.CreateOptions{})
					errs <- err
				}()
			}
			var first error
			for range n + 1 {
				if err := <-errs; err != nil && first == nil {
					first = err
				}
			}
			return time.Since(t0), first
		}
		paths := []func(name string) (time.Duration, error){
			func(name string) (time.Duration, error) {
				return timeCreate(ctx, direct.kube, namespace+"-direct", name)
			},
			func(name string) (time.Duration, error) {
				return timeCreate(ctx, direct.kube, namespace+"-direct", name+"-aa")
			},
			limit,
			func(name string) (time.Duration, error) { return timeCreate(ctx, gw.kube, namespace, name) },
		}
		// Requests of gateway creates alone (before the latency rounds, whose asynchronous work would
		// leak into the count), up to the binding and the events recording every member's copy.
		var kubes []kubernetes.Interface
		for _, mc := range memberClients[:n] {
			kubes = append(kubes, mc.kube)
		}
		// Members joined just now first catch up with the templates of the earlier namespaces.
		if err := waitCaughtUp(ctx, direct, earlier, n); err != nil {
			return err
		}
		earlier = append(earlier, namespace)
		c := counted{n: n, creates: o.creates}
		hist := map[string]string{"fleetgate_write_stage_duration_seconds": "stage",
			"workqueue_queue_duration_seconds": "name", "workqueue_work_duration_seconds": "name"}
		h0, err := histograms(ctx, gw.kube, hist)
		if err != nil {
			return err
		}
		own := requestCounts{}
		// What the processes spend idle (leases, probes) is taken off what each phase spent.
		idle0, idleStart := cpuTimes(pids), time.Now()
		time.Sleep(3 * time.Second)
		idle := perSecond(idle0, cpuTimes(pids), time.Since(idleStart))
		cpu0, t0 := cpuTimes(pids), time.Now()
		c.host, c.member, err = countRequests(ctx, direct.kube, kubes, func() error {
			for i := 0; i < o.creates; i++ {
				if _, err := timeCreate(ctx, gw.kube, namespace, fmt.Sprintf("count-%d", i)); err != nil {
					return err
				}
			}
			for i := 0; i < o.creates; i++ {
				if err := waitFullyApplied(ctx, direct.dyn, namespace, fmt.Sprintf("count-%d-deployment", i), n, own); err != nil {
					return err
				}
			}
			return waitEvents(ctx, direct.kube, namespace, o.creates*n, own)
		})
		if err != nil {
			return err
		}
		c.host = c.host.sub(own) // the bench's own reads while it waited are not the gateway's
		c.cpuGateway = perCreate(cpu0, cpuTimes(pids), idle, time.Since(t0), o.creates)
		cpu0, t0 = cpuTimes(pids), time.Now()
		for i := 0; i < o.creates; i++ {
			if _, err := limit(fmt.Sprintf("count-%d", i)); err != nil {
				return err
			}
		}
		c.cpuLimit = perCreate(cpu0, cpuTimes(pids), idle, time.Since(t0), o.creates)
		h1, err := histograms(ctx, gw.kube, hist)
		if err != nil {
			return err
		}
		c.stages = meanDurations(h0, h1, []string{"resolve", "match", "schedule", "override", "policy", "memberDryRun", "commit", "handoff"})
		counts = append(counts, c)
		lat := make([][]time.Duration, len(paths))
		for r := 0; r < o.rounds; r++ {
			for i := 0; i < o.creates; i++ {
				name := fmt.Sprintf("d-%d-%d", r, i)
				for j := range paths {
					p := (i + j) % len(paths) // each path goes first as often as the others
					d, err := paths[p](name)
					if err != nil {
						return fmt.Errorf("N=%d, create %s (path %d): %w", n, name, p, err)
					}
					lat[p] = append(lat[p], d)
				}
			}
		}
		dl, aa, ll, gl := lat[0], lat[1], lat[2], lat[3]
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t\n", n, round(pct(dl, 50)),
			round(pct(ll, 50)), round(pct(ll, 99)), round(pct(gl, 50)), round(pct(gl, 99)),
			ratio(pct(gl, 50), pct(ll, 50)), ratio(pct(gl, 99), pct(ll, 99)), ratio(pct(gl, 50), pct(dl, 50)),
			ratio(pct(aa, 50), pct(dl, 50)), ratio(pct(aa, 99), pct(dl, 99)))

	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nrequests per gateway create (until the binding records every copy), from apiserver_request_total; limit path: host POST 1, per member POST 1\n")
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "members\thost\thost requests\tper member\tmember requests")
	for _, c := range counts {
		k := float64(c.creates)
		fmt.Fprintf(tw, "%d\t%.2f\t%s\t%.2f\t%s\n", c.n, c.host.total()/k, c.host.per(k), c.member.total()/k/float64(c.n), c.member.per(k*float64(c.n)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nCPU time per create of the environment's processes, their idle CPU taken off (2 cores: what bounds latency once they are busy); gateway creates up to the binding recording every copy\n")
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "members\tlimit\tgateway path\tratio\tlimit: host+etcd\tmembers\tgateway path: host+etcd\tmembers\tgateway\t")
	for _, c := range counts {
		lh, lm, _ := splitCPU(c.cpuLimit)
		gh, gm, gg := splitCPU(c.cpuGateway)
		fmt.Fprintf(tw, "%d\t%s\t%s\t%.2f\t%s\t%s\t%s\t%s\t%s\t\n", c.n, lh+lm, gh+gm+gg, ratio(gh+gm+gg, lh+lm), lh, lm, gh, gm, gg)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nmean time per gateway create in each write stage, and in the reconciler's queues (waiting; working), from the gateway's /metrics\n")
	for _, c := range counts {
		fmt.Fprintf(out, "N=%d: %s\n", c.n, c.stages)
	}
	var rns []int
	for _, n := range []int{2, 10} {
		if n <= joined {
			rns = append(rns, n)
		}
	}
	return reconcileBench(ctx, env, gw, direct, o, out, rns)
}

// perCreate is (after - before - idle CPU over wall) / n for every process.
func perCreate(before, after map[string]time.Duration, idle map[string]float64, wall time.Duration, n int) map[string]time.Duration {
	out := map[string]time.Duration{}
	for p, t := range after {
		busy := t - before[p] - time.Duration(idle[p]*float64(wall))
		out[p] = max(busy, 0) / time.Duration(n)
	}
	return out
}

// perSecond is the CPU share (CPU seconds per second) of every process between before and after.
func perSecond(before, after map[string]time.Duration, wall time.Duration) map[string]float64 {
	out := map[string]float64{}
	for p, t := range after {
		out[p] = float64(t-before[p]) / float64(wall)
	}
	return out
}

// splitCPU sums CPU times into the host's (host apiserver and etcd), the members' and the gateway's.
func splitCPU(cpu map[string]time.Duration) (host, members, gateway time.Duration) {
	for p, t := range cpu {
		switch {
		case p == "gateway":
			gateway += t
		case strings.HasPrefix(p, "member"):
			members += t
		default:
			host += t
		}
	}
	return host.Round(100 * time.Microsecond), members.Round(100 * time.Microsecond), gateway.Round(100 * time.Microsecond)
}

// ensureNamespace creates ns unless it exists.
func ensureNamespace(ctx context.Context, k kubernetes.Interface, ns string) error {
	_, err := k.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

var bindingGVR = schema.GroupVersionResource{Group: "work.karmada.io", Version: "v1alpha2", Resource: "resourcebindings"}

// waitCaughtUp waits until every binding in namespaces is FullyApplied on n clusters and each of
// their copies has its ApplySucceeded event.
func waitCaughtUp(ctx context.Context, c *clients, namespaces []string, n int) error {
	for _, ns := range namespaces {
		l, err := c.dyn.Resource(bindingGVR).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, b := range l.Items {
			if err := waitFullyApplied(ctx, c.dyn, ns, b.GetName(), n, nil); err != nil {
				return err
			}
		}
		if err := waitEvents(ctx, c.kube, ns, len(l.Items)*n, nil); err != nil {
			return err
		}
	}
	return nil
}

// waitEvents waits until the ApplySucceeded events in namespace ns name at least n clusters (an
// event names every cluster one pass applied to); own (optional) counts its requests.
func waitEvents(ctx context.Context, k kubernetes.Interface, ns string, n int, own requestCounts) error {
	deadline := time.Now().Add(time.Minute)
	for {
		if own != nil {
			own["LIST events"]++
		}
		l, err := k.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "reason=ApplySucceeded"})
		if err == nil {
			got := 0
			for _, e := range l.Items {
				got += appliedClusters(e.Message) * int(max(e.Count, 1))
			}
			if got >= n {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ApplySucceeded events in %s name fewer than %d clusters after 1m (last error: %v)", ns, n, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// appliedClusters counts the clusters an ApplySucceeded message names ("Applied to cluster m1",
// "Applied to clusters m1 (overrides: OverridePolicy a, OverridePolicy b), m2").
func appliedClusters(msg string) int {
	_, list, ok := strings.Cut(msg, "Applied to cluster")
	if !ok {
		return 0
	}
	depth, n := 0, 1
	for _, r := range strings.TrimPrefix(list, "s") {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				n++
			}
		}
	}
	return n
}

// waitFullyApplied waits until binding ns/name is FullyApplied on n clusters; own (optional)
// counts its requests.
func waitFullyApplied(ctx context.Context, d dynamic.Interface, ns, name string, n int, own requestCounts) error {
	deadline := time.Now().Add(time.Minute)
	for {
		if own != nil {
			own["GET resourcebindings"]++
		}
		b, err := d.Resource(bindingGVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			clusters, _, _ := unstructured.NestedSlice(b.Object, "spec", "clusters")
			conds, _, _ := unstructured.NestedSlice(b.Object, "status", "conditions")
			for _, x := range conds {
				if m, _ := x.(map[string]any); m["type"] == "FullyApplied" && m["status"] == "True" && len(clusters) == n {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("binding %s/%s not FullyApplied on %d clusters after 1m (last error: %v)", ns, name, n, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type clients struct {
	kube kubernetes.Interface
	dyn  dynamic.Interface
}

func clientsFor(cfg *rest.Config) (*clients, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = -1, 0
	k, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	d, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &clients{kube: k, dyn: d}, nil
}

var clusterGVR = schema.GroupVersionResource{Group: "cluster.karmada.io", Version: "v1alpha1", Resource: "clusters"}

func waitReady(ctx context.Context, d dynamic.Interface, n int) error {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		l, err := d.Resource(clusterGVR).List(ctx, metav1.ListOptions{})
		ready := 0
		if err == nil {
			for _, c := range l.Items {
				conds, _, _ := unstructured.NestedSlice(c.Object, "status", "conditions")
				for _, x := range conds {
					if m, _ := x.(map[string]any); m["type"] == "Ready" && m["status"] == "True" {
						ready++
					}
				}
			}
		}
		if ready >= n {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("fewer than %d clusters Ready", n)
}

// setupNamespace creates ns through the gateway (so it goes to every member) and a PropagationPolicy
// "all" sending every Deployment in ns to clusters (nil: every cluster).
func setupNamespace(ctx context.Context, gw *clients, ns string, clusters []string) error {
	if err := ensureNamespace(ctx, gw.kube, ns); err != nil {
		return err
	}
	affinity := map[string]any{}
	if clusters != nil {
		affinity["clusterNames"] = toAny(clusters)
	}
	pp := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "policy.karmada.io/v1alpha1", "kind": "PropagationPolicy",
		"metadata": map[string]any{"name": "all", "namespace": ns},
		"spec": map[string]any{
			"resourceSelectors": []any{map[string]any{"apiVersion": "apps/v1", "kind": "Deployment"}},
			"placement":         map[string]any{"clusterAffinity": affinity},
		},
	}}
	// Written through the gateway, the policy is in its cache at once (read your writes).
	_, err := gw.dyn.Resource(propagationPoliciesGVR).Namespace(ns).Create(ctx, pp, metav1.CreateOptions{})
	return err
}

func newDeployment(name string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}},
			},
		},
	}
}

func timeCreate(ctx context.Context, k kubernetes.Interface, ns, name string) (time.Duration, error) {
	t0 := time.Now()
	_, err := k.AppsV1().Deployments(ns).Create(ctx, newDeployment(name), metav1.CreateOptions{})
	return time.Since(t0), err
}
