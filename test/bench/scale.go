package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	"github.com/fleetgate/fleetgate/certs"
	"github.com/fleetgate/fleetgate/localenv"
)

const (
	scaleClusters  = 200
	scaleMembers   = 10
	scalePlaced    = 10
	scaleTemplates = 1000
	scaleNamespace = "bench-scale"
	// scaleSettle is the wait before each measuring window; scaleWindow the window.
	scaleSettle = 15 * time.Second
	scaleWindow = 30 * time.Second
)

// scaleBench measures the cost of a cluster (issue 12): scaleClusters Cluster objects, each with a
// service account and token of its own in one of scaleMembers real member apiservers (Push), are
// registered in the host; then scaleTemplates Deployments are placed on scalePlaced of them (on
// distinct members). Readings, each over scaleWindow after scaleSettle: the gateway's RSS and
// goroutines, its CPU (the probes, when idle) and the host's resource requests per second
// (apiserver_request_total), with no cluster, with every cluster idle, and with the templates
// placed. Per-cluster figures are the differences to the reading without clusters.
func scaleBench(ctx context.Context, o options, out io.Writer) error {
	env, gw, stop, err := withMembers(ctx, "fleetgate-bench-scale-", scaleMembers, 0, "--profiling")
	if err != nil {
		return err
	}
	defer stop()
	hostClients, err := clientsFor(env.Host.Config) // no client-side rate limit
	if err != nil {
		return err
	}
	host := hostClients.kube
	httpClient, err := rest.HTTPClientFor(env.GatewayConfig)
	if err != nil {
		return err
	}
	pid, _ := env.GatewayReplica(0)
	measure := func(label string) (scaleReading, error) {
		select {
		case <-time.After(scaleSettle):
		case <-ctx.Done():
			return scaleReading{}, ctx.Err()
		}
		r := scaleReading{label: label}
		cpu0, req0, err := cpuAndRequests(ctx, pid, host)
		if err != nil {
			return r, err
		}
		began := time.Now()
		select {
		case <-time.After(scaleWindow):
		case <-ctx.Done():
			return r, ctx.Err()
		}
		cpu1, req1, err := cpuAndRequests(ctx, pid, host)
		if err != nil {
			return r, err
		}
		wall := time.Since(began)
		r.cpuPerSecond = float64(cpu1-cpu0) / float64(wall)
		r.hostPerSecond = (req1 - req0) / wall.Seconds()
		r.rss = statusBytes(pid, "VmRSS:")
		if r.goroutines, err = goroutines(ctx, httpClient, env.GatewayURL); err != nil {
			return r, err
		}
		fmt.Printf("scale bench: %s: RSS %s, %d goroutines, gateway CPU %.1f%%, host %.1f requests/s\n", label, mb(r.rss), r.goroutines, 100*r.cpuPerSecond, r.hostPerSecond)
		return r, nil
	}
	none, err := measure("no cluster")
	if err != nil {
		return err
	}
	names, err := registerScaleClusters(ctx, env, host)
	if err != nil {
		return err
	}
	if err := waitReady(ctx, gw.dyn, scaleClusters); err != nil {
		return err
	}
	idle, err := measure(fmt.Sprintf("%d clusters idle", scaleClusters))
	if err != nil {
		return err
	}
	// The placed clusters are scale-000 … scale-009: one per member apiserver.
	if err := setupNamespace(ctx, gw, scaleNamespace, names[:scalePlaced]); err != nil {
		return err
	}
	if err := parallel(16, scaleTemplates, func(i int) error {
		_, err := hostClients.kube.AppsV1().Deployments(scaleNamespace).Create(ctx, newDeployment(fmt.Sprintf("t-%04d", i)), metav1.CreateOptions{})
		return err
	}); err != nil {
		return err
	}
	var placed []*clients
	for _, m := range env.Members[:scalePlaced] {
		mc, err := clientsFor(m.Config)
		if err != nil {
			return err
		}
		placed = append(placed, mc)
	}
	began := time.Now()
	if err := waitCopies(ctx, placed, scaleNamespace, scaleTemplates, began); err != nil {
		return err
	}
	// Then until the reconciler's queues are empty (bindings' and templates' status written).
	if err := waitQuiet(ctx, gw, 5*time.Minute); err != nil {
		return err
	}
	fmt.Printf("scale bench: %d templates on %d clusters in %s (reconciler quiet)\n", scaleTemplates, scalePlaced, time.Since(began).Round(100*time.Millisecond))
	busy, err := measure(fmt.Sprintf("%d clusters, %d templates on %d", scaleClusters, scaleTemplates, scalePlaced))
	if err != nil {
		return err
	}

	fmt.Fprintf(out, "cost of a cluster (issue 12): %d Push Clusters over %d member apiservers, each with its own service-account token; one gateway; readings over %s after %s; MB = 10⁶ bytes\n",
		scaleClusters, scaleMembers, scaleWindow, scaleSettle)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "reading\tRSS\tgoroutines\tgateway CPU\thost requests/s\t")
	for _, r := range []scaleReading{none, idle, busy} {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.1f%%\t%.1f\t\n", r.label, mb(r.rss), r.goroutines, 100*r.cpuPerSecond, r.hostPerSecond)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "per cluster (vs no cluster)\tRSS\tgoroutines\tgateway CPU (probes)\thost requests/s\tgoal\t")
	for _, r := range []scaleReading{idle, busy} {
		n := float64(scaleClusters)
		goal := "—"
		if r.label == idle.label {
			goal = fmt.Sprintf("RSS ≤ 2 MB %s, host ≤ 1/s %s", yesNo(float64(r.rss-none.rss)/n <= 2e6), yesNo((r.hostPerSecond-none.hostPerSecond)/n <= 1))
		}
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.2f ms/s\t%.3f\t%s\t\n", r.label, kib(float64(r.rss-none.rss)/n), float64(r.goroutines-none.goroutines)/n,
			1000*(r.cpuPerSecond-none.cpuPerSecond)/n, (r.hostPerSecond-none.hostPerSecond)/n, goal)
	}
	return tw.Flush()
}

type scaleReading struct {
	label         string
	rss           int64
	goroutines    int
	cpuPerSecond  float64 // CPU seconds per second
	hostPerSecond float64
}

// cpuAndRequests reads the gateway's CPU time and the host's resource requests so far.
func cpuAndRequests(ctx context.Context, pid int, host kubernetes.Interface) (time.Duration, float64, error) {
	cpu := cpuTimes(map[string]int{"gateway": pid})["gateway"]
	reqs, err := scrapeRequests(ctx, host)
	if err != nil {
		return 0, 0, err
	}
	var total float64
	for _, v := range reqs {
		total += v
	}
	return cpu, total, nil
}

// goroutines reads the gateway's goroutine count from its goroutine profile (--profiling).
func goroutines(ctx context.Context, c *http.Client, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/debug/pprof/goroutine?debug=1", nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil {
		return 0, fmt.Errorf("goroutine profile: %w", err)
	}
	n, ok := strings.CutPrefix(strings.TrimSpace(line), "goroutine profile: total ")
	if !ok {
		return 0, fmt.Errorf("goroutine profile: unexpected first line %q", line)
	}
	return strconv.Atoi(n)
}

// registerScaleClusters registers scaleClusters Push Clusters scale-000…, cluster i on member
// i mod scaleMembers with a service account of its own there (cluster-admin) and a token for it
// in the host, as join does for one.
func registerScaleClusters(ctx context.Context, env *localenv.Env, host kubernetes.Interface) ([]string, error) {
	names := make([]string, scaleClusters)
	memberKube := make([]kubernetes.Interface, len(env.Members))
	for i, m := range env.Members {
		mc, err := clientsFor(m.Config)
		if err != nil {
			return nil, err
		}
		memberKube[i] = mc.kube
	}
	hostDyn, err := clientsFor(env.Host.Config)
	if err != nil {
		return nil, err
	}
	if err := certs.EnsureNamespace(ctx, host, certs.Namespace); err != nil {
		return nil, err
	}
	err = parallel(8, scaleClusters, func(i int) error {
		name := fmt.Sprintf("scale-%03d", i)
		m := env.Members[i%len(env.Members)]
		k := memberKube[i%len(env.Members)]
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "bench-" + name, Namespace: "kube-system"}}
		if _, err := k.CoreV1().ServiceAccounts("kube-system").Create(ctx, sa, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "bench-" + name},
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa.Name, Namespace: "kube-system"}}}
		if _, err := k.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		tr, err := k.CoreV1().ServiceAccounts("kube-system").CreateToken(ctx, sa.Name, &authenticationv1.TokenRequest{
			Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To(int64(24 * 3600))}}, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("%s: token: %w", name, err)
		}
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: certs.Namespace, Labels: map[string]string{"fleetgate.io/cluster": name}},
			Data: map[string][]byte{clusterv1alpha1.SecretTokenKey: []byte(tr.Status.Token), clusterv1alpha1.SecretCADataKey: m.Config.CAData}}
		if _, err := host.CoreV1().Secrets(certs.Namespace).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		cluster := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "cluster.karmada.io/v1alpha1", "kind": "Cluster", "metadata": map[string]any{"name": name},
			"spec": map[string]any{"syncMode": "Push", "apiEndpoint": m.Config.Host,
				"secretRef": map[string]any{"namespace": certs.Namespace, "name": name}},
		}}
		if _, err := hostDyn.dyn.Resource(clusterGVR).Create(ctx, cluster, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		names[i] = name // each worker its own index
		return nil
	})
	return names, err
}
