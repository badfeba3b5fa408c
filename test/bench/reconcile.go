package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"

	"github.com/fleetgate/fleetgate/localenv"
	"github.com/fleetgate/fleetgate/propagate/member"
)

// reconcileWorkers is the bench's concurrency per member on the limit path: the reconciler's
// cluster workers per member (reconcile.DefaultClusterWorkers).
const reconcileWorkers = 8

// reconcileRun is one N of the reconcile benchmark.
type reconcileRun struct {
	n                          int
	cold, limit, limitAA, warm time.Duration
	coldHost, coldMember       requestCounts
	warmHost, warmMember       requestCounts
	templates                  int
}

// reconcileBench measures, for each N in ns (at most the joined members), the reconciler after a
// gateway restart with o.templates Deployments written straight to the host and placed on the
// first N members: cold (nothing propagated yet; timed from the gateway's start until every
// member holds every copy) against the limit path (the bench server-side-applies the same N×M
// copies straight to the members, reconcileWorkers at a time per member, as the reconciler's
// cluster workers do), with the requests each made; then a warm restart over the same, now
// current, templates and bindings, whose writes should be none.
func reconcileBench(ctx context.Context, env *localenv.Env, gw, direct *clients, o options, out io.Writer, ns []int) error {
	var runs []reconcileRun
	for _, n := range ns {
		r, err := reconcileOnce(ctx, env, gw, direct, o, n)
		if err != nil {
			return fmt.Errorf("reconcile N=%d: %w", n, err)
		}
		runs = append(runs, r)
	}
	fmt.Fprintf(out, "\nreconcile after a gateway restart: %d Deployments written straight to the host; limit = the same copies applied straight to the members, %d at a time per member\n",
		o.templates, reconcileWorkers)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "members\tcold (gateway start included)\ttemplates/s\tlimit\ttemplates/s\tgw/limit\tA/A\twarm restart\t")
	for _, r := range runs {
		c, l := float64(r.templates)/r.cold.Seconds(), float64(r.templates)/r.limit.Seconds()
		fmt.Fprintf(tw, "%d\t%s\t%.0f\t%s\t%.0f\t%.2f\t%.2f\t%s\t\n", r.n, r.cold.Round(time.Millisecond), c, r.limit.Round(time.Millisecond), l, c/l,
			r.limit.Seconds()/r.limitAA.Seconds(), r.warm.Round(time.Millisecond))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nrequests of the reconciler: cold, per template (host) and per copy (members); warm restart, in all (writes should be 0)\n")
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "members\tcold host\tcold per member copy\twarm: reconciler's host writes\tmember writes\tthe gateway's start-up writes")
	for _, r := range runs {
		k := float64(r.templates)
		startup := writes(r.warmHost, false).sub(writes(r.warmHost, true))
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", r.n, r.coldHost.per(k), r.coldMember.per(k*float64(r.n)),
			orNone(writes(r.warmHost, true).per(1)), orNone(writes(r.warmMember, true).per(1)), orNone(startup.per(1)))
	}
	return tw.Flush()
}

// startupResources are what the gateway writes to the host whenever it starts, before its
// reconciler runs: its CRDs, its webhook configurations and its namespace.
var startupResources = []string{"customresourcedefinitions", "mutatingwebhookconfigurations", "validatingwebhookconfigurations", "namespaces"}

// writes keeps the writes of c (not reads, not the apiservers' own leases, not the gateway's
// start-up writes when reconcilerOnly).
func writes(c requestCounts, reconcilerOnly bool) requestCounts {
	out := requestCounts{}
	for k, v := range c {
		verb, res, _ := strings.Cut(k, " ")
		res, _, _ = strings.Cut(res, " ")
		switch {
		case strings.HasPrefix(res, "leases"):
		case reconcilerOnly && slices.Contains(startupResources, res):
		case verb == "POST" || verb == "PUT" || verb == "PATCH" || verb == "APPLY" || verb == "DELETE" || verb == "DELETECOLLECTION":
			out[k] = v
		}
	}
	return out
}

func reconcileOnce(ctx context.Context, env *localenv.Env, gw, direct *clients, o options, n int) (reconcileRun, error) {
	r := reconcileRun{n: n, templates: o.templates}
	namespace := fmt.Sprintf("bench-restart-n%d", n)
	var placed []string
	var memberKubes []kubernetes.Interface
	var memberClients []*clients
	for _, m := range env.Members[:n] {
		placed = append(placed, m.Name)
		mc, err := clientsFor(m.Config)
		if err != nil {
			return r, err
		}
		memberClients = append(memberClients, mc)
		memberKubes = append(memberKubes, mc.kube)
	}
	if err := setupNamespace(ctx, gw, namespace, placed); err != nil {
		return r, err
	}
	limitNS, limitAANS := namespace+"-limit", namespace+"-limit-aa"
	for _, mc := range memberClients {
		for _, n := range []string{limitNS, limitAANS} {
			if err := ensureNamespace(ctx, mc.kube, n); err != nil {
				return r, err
			}
		}
	}
	if err := waitNamespaceOnMembers(ctx, memberClients, namespace); err != nil {
		return r, err
	}

	if err := env.StopGateway(ctx); err != nil {
		return r, err
	}
	if err := parallel(16, o.templates, func(i int) error {
		_, err := direct.kube.AppsV1().Deployments(namespace).Create(ctx, newDeployment(fmt.Sprintf("t-%04d", i)), metav1.CreateOptions{})
		return err
	}); err != nil {
		return r, err
	}

	// Cold: from the gateway's start until every member holds every copy; requests counted until
	// every binding records them (FullyApplied).
	own := requestCounts{}
	var err error
	r.coldHost, r.coldMember, err = countRequests(ctx, direct.kube, memberKubes, func() error {
		start := time.Now()
		if err := env.StartGateway(ctx); err != nil {
			return err
		}
		if err := waitCopies(ctx, memberClients, namespace, o.templates, start); err != nil {
			return err
		}
		r.cold = time.Since(start)
		return waitBindingsApplied(ctx, direct, namespace, o.templates, own)
	})
	if err != nil {
		return r, err
	}
	r.coldHost = r.coldHost.sub(own)

	// The limit path: the same copies, straight to the members, as many at a time.
	l, err := direct.dyn.Resource(deploymentsGVR).Namespace(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return r, err
	}
	// Twice (into two namespaces): the second run's time against the first is
	// the A/A spread.
	for i, into := range []string{limitNS, limitAANS} {
		copies := make([]*unstructured.Unstructured, 0, len(l.Items))
		for j := range l.Items {
			cp := member.Copy(&l.Items[j])
			cp.SetNamespace(into)
			copies = append(copies, cp)
		}
		start := time.Now()
		var wg sync.WaitGroup
		errs := make([]error, len(memberClients))
		for m, mc := range memberClients {
			wg.Go(func() {
				errs[m] = parallel(reconcileWorkers, len(copies), func(j int) error {
					_, err := mc.dyn.Resource(deploymentsGVR).Namespace(into).Apply(ctx, copies[j].GetName(), copies[j],
						metav1.ApplyOptions{FieldManager: "fleetgate", Force: true})
					return err
				})
			})
		}
		wg.Wait()
		if i == 0 {
			r.limit = time.Since(start)
		} else {
			r.limitAA = time.Since(start)
		}
		for _, err := range errs {
			if err != nil {
				return r, err
			}
		}
	}

	// Warm: the same templates, current copies and bindings. Requests counted from the gateway's
	// start until its reconciler has taken up every template and has nothing left to do.
	// The old process is stopped first: what it still had to write (events it had queued) is not
	// the restart's.
	if err := env.StopGateway(ctx); err != nil {
		return r, err
	}
	r.warmHost, r.warmMember, err = countRequests(ctx, direct.kube, memberKubes, func() error {
		start := time.Now()
		if err := env.StartGateway(ctx); err != nil {
			return err
		}
		if err := waitReconcilerIdle(ctx, gw.kube, o.templates); err != nil {
			return err
		}
		r.warm = time.Since(start)
		return nil
	})
	return r, err
}

// parallel runs do(0..n-1), workers at a time; the first error ends it.
func parallel(workers, n int, do func(int) error) error {
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := do(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}

// waitCopies waits until every member holds n Deployments in namespace.
func waitCopies(ctx context.Context, ms []*clients, namespace string, n int, start time.Time) error {
	for i, mc := range ms {
		for {
			l, err := mc.kube.AppsV1().Deployments(namespace).List(ctx, metav1.ListOptions{ResourceVersion: "0"})
			if err == nil && len(l.Items) >= n {
				break
			}
			if time.Since(start) > 10*time.Minute {
				return fmt.Errorf("member %d has %d of %d copies after 10m (last error: %v)", i+1, len(l.Items), n, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

// waitNamespaceOnMembers waits until every member has namespace (propagated by the gateway).
func waitNamespaceOnMembers(ctx context.Context, ms []*clients, namespace string) error {
	deadline := time.Now().Add(time.Minute)
	for _, mc := range ms {
		for {
			if _, err := mc.kube.CoreV1().Namespaces().Get(ctx, namespace, metav1.GetOptions{}); err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("namespace %s not on the members after 1m", namespace)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

// waitBindingsApplied waits until namespace holds n bindings, all FullyApplied; own counts its
// requests.
func waitBindingsApplied(ctx context.Context, direct *clients, namespace string, n int, own requestCounts) error {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		own["LIST resourcebindings"]++
		l, err := direct.dyn.Resource(bindingGVR).Namespace(namespace).List(ctx, metav1.ListOptions{})
		applied := 0
		if err == nil {
			for _, b := range l.Items {
				conds, _, _ := unstructured.NestedSlice(b.Object, "status", "conditions")
				for _, x := range conds {
					if m, _ := x.(map[string]any); m["type"] == "FullyApplied" && m["status"] == "True" {
						applied++
					}
				}
			}
		}
		if applied >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d bindings in %s FullyApplied after 5m (last error: %v)", applied, n, namespace, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// waitReconcilerIdle waits, from the gateway's /metrics, until its reconciler has taken up at
// least n templates (the positive signal that it looked) and its queues have been empty, with
// nothing in progress, for three readings in a row, 300ms apart.
func waitReconcilerIdle(ctx context.Context, gw kubernetes.Interface, n int) error {
	deadline := time.Now().Add(5 * time.Minute)
	quiet := 0
	for quiet < 3 {
		if time.Now().After(deadline) {
			return fmt.Errorf("the gateway's reconciler not idle after 5m")
		}
		time.Sleep(300 * time.Millisecond)
		families, err := scrapeMetrics(ctx, gw)
		if err != nil {
			quiet = 0
			continue
		}
		adds := gaugeOrCounter(families["workqueue_adds_total"], "templates")
		busy := sumMetric(families["workqueue_depth"]) + sumMetric(families["workqueue_unfinished_work_seconds"])
		if adds >= float64(n) && busy == 0 {
			quiet++
		} else {
			quiet = 0
		}
	}
	return nil
}

// gaugeOrCounter returns the value of the sample of f whose label name is queue.
func gaugeOrCounter(f *dto.MetricFamily, queue string) float64 {
	for _, m := range f.GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == "name" && lp.GetValue() == queue {
				return m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

// sumMetric sums every sample of a gauge family.
func sumMetric(f *dto.MetricFamily) float64 {
	t := 0.0
	for _, m := range f.GetMetric() {
		t += m.GetGauge().GetValue()
	}
	return t
}

func orNone(s string) string {
	if s == "-" {
		return "none"
	}
	return s
}
