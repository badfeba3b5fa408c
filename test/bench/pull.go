package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"text/tabwriter"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/fleetgate/fleetgate/bootstrap"
	"github.com/fleetgate/fleetgate/localenv"
)

// pullBench measures one member's apiserver reached by the gateway directly (joined in Push mode
// as member1-push) and through its agent's tunnel (registered in Pull mode as member1), in the same
// run: GET latency and LIST throughput of pullListSize ConfigMaps through the cluster proxy
// (/clusters/<name>/…), with the member's apiserver straight from the client as a third column.
// The goal compares Pull with Push: p50 ≤ 1.3×, throughput ≥ 0.7×.
func pullBench(ctx context.Context, o options, out io.Writer) error {
	const pullListSize = 1000
	dir, err := os.MkdirTemp("", "fleetgate-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var gatewayArgs []string
	if o.pullProfile != "" {
		gatewayArgs = []string{"--profiling"}
	}
	env, err := localenv.Start(ctx, localenv.Options{Dir: dir, Gateway: true, GatewayArgs: gatewayArgs, Members: []localenv.MemberOptions{{Name: "member1"}}, Out: os.Stderr})
	if err != nil {
		localenv.TailLogs(os.Stderr, dir, 40)
		return err
	}
	defer env.Stop()
	m := env.Member("member1")
	if err := bootstrap.Join(ctx, bootstrap.JoinOptions{Name: "member1-push", Host: env.GatewayConfig, MemberKubeconfig: m.Kubeconfig}); err != nil {
		return err
	}
	if err := env.RegisterPull(ctx, "member1"); err != nil {
		return err
	}
	gw, err := clientsFor(env.GatewayConfig)
	if err != nil {
		return err
	}
	if err := waitReady(ctx, gw.dyn, 2); err != nil {
		return err
	}
	if err := seed(ctx, m.Config, pullListSize); err != nil {
		return err
	}
	pids := map[string]int{}
	for _, u := range env.Usage() {
		if u.Name == "gateway" || u.Name == "member1-agent" || u.Name == "member1-kube-apiserver" {
			pids[u.Name] = u.PID
		}
	}
	if len(pids) != 3 {
		return fmt.Errorf("gateway, agent and member apiserver processes not found: %v", env.Usage())
	}
	through := func(cluster string) *rest.Config {
		cfg := rest.CopyConfig(env.GatewayConfig)
		cfg.Host = env.GatewayURL + "/clusters/" + cluster
		return cfg
	}
	get := func(ctx context.Context, c kubernetes.Interface) error {
		_, err := c.CoreV1().ConfigMaps(benchNS).Get(ctx, "one", metav1.GetOptions{})
		return err
	}
	list := func(ctx context.Context, c kubernetes.Interface) error {
		l, err := c.CoreV1().ConfigMaps(benchNS).List(ctx, metav1.ListOptions{LabelSelector: "bench=list"})
		if err == nil && len(l.Items) != pullListSize {
			err = fmt.Errorf("list returned %d items, want %d", len(l.Items), pullListSize)
		}
		return err
	}
	// The size of one LIST answer, for MB/s.
	raw, err := kubernetes.NewForConfigOrDie(m.Config).CoreV1().RESTClient().Get().Namespace(benchNS).Resource("configmaps").
		Param("labelSelector", "bench=list").SetHeader("Accept", "application/json").DoRaw(ctx)
	if err != nil {
		return err
	}
	listMB := float64(len(raw)) / 1e6

	fmt.Fprintf(out, "fleetgate bench (pull): one member apiserver, through the gateway in Push mode (member1-push) and in Pull mode (member1, agent's tunnel), "+
		"and straight from the client; %d rounds × %s per path and scenario; LIST of %d ConfigMaps = %.2f MB as JSON\n\n", o.rounds, o.phase, pullListSize, listMB)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tclients\tmember direct p50\tpush p50\tpull p50\tpull/push p50\tpull/push p99\tpull/push throughput\tpush MB/s\tpull MB/s\tA/A (push) p50 / thr\tgw CPU ms/req push / pull\tagent CPU ms/req\t")
	for _, s := range []scenario{
		{"GET configmap", 1, get},
		{"GET configmap", 32, get},
		{fmt.Sprintf("LIST %d configmaps", pullListSize), 1, list},
		{fmt.Sprintf("LIST %d configmaps", pullListSize), 4, list},
	} {
		direct, err := newPath("member direct", m.Config)
		if err != nil {
			return err
		}
		push, err := newPath("push", through("member1-push"))
		if err != nil {
			return err
		}
		pull, err := newPath("pull", through("member1"))
		if err != nil {
			return err
		}
		push2, err := newPath("push-again", through("member1-push"))
		if err != nil {
			return err
		}
		for range o.rounds {
			for _, p := range []*path{direct, push, pull, push2} {
				if err := turn(ctx, p, s, o.phase, pids); err != nil {
					return fmt.Errorf("%s via %s: %w", s.name, p.name, err)
				}
			}
		}
		mbps := func(p *path) string {
			if s.do == nil || s.name[:4] != "LIST" {
				return "-"
			}
			return fmt.Sprintf("%.1f", p.throughput()*listMB)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%.2f\t%.2f\t%.2f\t%s\t%s\t%.2f / %.2f\t%.3f / %.3f\t%.3f\t\n", s.name, s.concurrency,
			round(pct(direct.lat, 50)), round(pct(push.lat, 50)), round(pct(pull.lat, 50)),
			ratio(pct(pull.lat, 50), pct(push.lat, 50)), ratio(pct(pull.lat, 99), pct(push.lat, 99)),
			pull.throughput()/push.throughput(), mbps(push), mbps(pull),
			ratio(pct(push2.lat, 50), pct(push.lat, 50)), push2.throughput()/push.throughput(),
			push.cpuPerReq("gateway"), pull.cpuPerReq("gateway"), pull.cpuPerReq("member1-agent"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if o.pullProfile == "" {
		return nil
	}
	return profilePull(ctx, env, through("member1"), get, o.pullProfile, out)
}

// profilePull writes a 10s CPU profile of the gateway while 32 clients GET through the tunnel.
func profilePull(ctx context.Context, env *localenv.Env, pullCfg *rest.Config, get func(context.Context, kubernetes.Interface) error, file string, out io.Writer) error {
	return profileUnderLoad(ctx, env, pullCfg, get, file, "32 clients GETting through the tunnel", out)
}

// profileGET writes a 10s CPU profile of the gateway while 32 clients GET one ConfigMap through it.
func profileGET(ctx context.Context, env *localenv.Env, file string, out io.Writer) error {
	get := func(ctx context.Context, c kubernetes.Interface) error {
		_, err := c.CoreV1().ConfigMaps(benchNS).Get(ctx, "one", metav1.GetOptions{})
		return err
	}
	return profileUnderLoad(ctx, env, env.GatewayConfig, get, file, "32 clients GETting one ConfigMap through the gateway", out)
}

// profileUnderLoad writes a 10s CPU profile of the gateway while 32 clients run op through cfg.
func profileUnderLoad(ctx context.Context, env *localenv.Env, cfg *rest.Config, get func(context.Context, kubernetes.Interface) error, file, what string, out io.Writer) error {
	p, err := newPath("profiled", cfg)
	if err != nil {
		return err
	}
	lctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for lctx.Err() == nil {
				_ = get(lctx, p.client)
			}
		})
	}
	prof, err := gatewayCPUProfile(ctx, env)
	cancel()
	wg.Wait()
	if err != nil {
		return err
	}
	if err := os.WriteFile(file, prof, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(out, "\ngateway CPU profile, 10s of %s: go tool pprof -top %s %s\n", what, env.BinDir+"/fleetgate", file)
	return nil
}
