package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/fleetgate/fleetgate/bootstrap"
	"github.com/fleetgate/fleetgate/localenv"
)

// propagationBench measures, with N = 1, 2, 5, 10 bare members joined in Push mode: the latency of a
// Deployment create through the gateway (every member has it when the call returns) against a direct
// create on the host apiserver, alternating A B; then the reconcile throughput after a gateway
// restart with o.templates templates written straight to the host.
func propagationBench(ctx context.Context, o options, out io.Writer) error {
	dir, err := os.MkdirTemp("", "fleetgate-bench-prop-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ns := []int{1, 2, 5, 10}
	members := make([]localenv.MemberOptions, ns[len(ns)-1])
	env, err := localenv.Start(ctx, localenv.Options{Dir: dir, Gateway: true, Members: members, Out: os.Stderr})
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
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "members\tdirect p50\tdirect p99\tgateway p50\tgateway p99\tp50 ×\tp99 ×\t")
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
		if err := setupNamespace(ctx, gw, namespace); err != nil {
			return err
		}
		var dl, gl []time.Duration
		for r := 0; r < o.rounds; r++ {
			for i := 0; i < o.creates; i++ {
				name := fmt.Sprintf("d-%d-%d", r, i)
				d, err := timeCreate(ctx, direct.kube, namespace+"-direct", name)
				if err != nil {
					return err
				}
				g, err := timeCreate(ctx, gw.kube, namespace, name)
				if err != nil {
					return err
				}
				dl, gl = append(dl, d), append(gl, g)
			}
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%.2f\t%.2f\t\n", n, round(pct(dl, 50)), round(pct(dl, 99)), round(pct(gl, 50)), round(pct(gl, 99)),
			ratio(pct(gl, 50), pct(dl, 50)), ratio(pct(gl, 99), pct(dl, 99)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return reconcileThroughput(ctx, env, gw, direct, o, out, joined)
}

// reconcileThroughput stops the gateway, writes o.templates Deployments straight to the host, starts
// the gateway and times until every member has all of them.
func reconcileThroughput(ctx context.Context, env *localenv.Env, gw, direct *clients, o options, out io.Writer, members int) error {
	const namespace = "bench-restart"
	if err := setupNamespace(ctx, gw, namespace); err != nil {
		return err
	}
	if err := env.StopGateway(ctx); err != nil {
		return err
	}
	for i := 0; i < o.templates; i++ {
		if _, err := direct.kube.AppsV1().Deployments(namespace).Create(ctx, newDeployment(fmt.Sprintf("t-%04d", i)), metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	start := time.Now()
	if err := env.StartGateway(ctx); err != nil {
		return err
	}
	for _, m := range env.Members[:members] {
		mc, err := clientsFor(m.Config)
		if err != nil {
			return err
		}
		for {
			l, err := mc.kube.AppsV1().Deployments(namespace).List(ctx, metav1.ListOptions{ResourceVersion: "0"})
			if err == nil && len(l.Items) >= o.templates {
				break
			}
			if time.Since(start) > 10*time.Minute {
				return fmt.Errorf("%s has %d of %d templates after 10m", m.Name, len(l.Items), o.templates)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	el := time.Since(start)
	fmt.Fprintf(out, "\nreconcile after a gateway restart: %d templates to %d members in %s (gateway start included) = %.0f templates/s (%.0f member writes/s)\n",
		o.templates, members, el.Round(time.Millisecond), float64(o.templates)/el.Seconds(), float64(o.templates*members)/el.Seconds())
	return nil
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

// setupNamespace creates ns (and ns-direct for the direct path) and a PropagationPolicy sending every
// Deployment in ns to every cluster.
func setupNamespace(ctx context.Context, gw *clients, ns string) error {
	for _, n := range []string{ns, ns + "-direct"} {
		if _, err := gw.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	pp := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "policy.karmada.io/v1alpha1", "kind": "PropagationPolicy",
		"metadata": map[string]any{"name": "all", "namespace": ns},
		"spec": map[string]any{
			"resourceSelectors": []any{map[string]any{"apiVersion": "apps/v1", "kind": "Deployment"}},
			"placement":         map[string]any{"clusterAffinity": map[string]any{}},
		},
	}}
	_, err := gw.dyn.Resource(schema.GroupVersionResource{Group: "policy.karmada.io", Version: "v1alpha1", Resource: "propagationpolicies"}).
		Namespace(ns).Create(ctx, pp, metav1.CreateOptions{})
	// Written through the gateway, the policy is in its cache at once (read your writes).
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
