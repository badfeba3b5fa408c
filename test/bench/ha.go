package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

const (
	haNamespace = "bench-ha"
	haMembers   = 5
	// haWriters create Deployments concurrently in each turn.
	haWriters = 16
)

// haBench measures write throughput — Deployments created through the gateway, each propagated
// to haMembers members when its create returns (the handoff) — with one gateway replica and with
// two (issue 12), in the same run: rounds of "1 replica" (every writer at replica 0, the leader),
// "2 replicas" (writers alternate between replica 0 and replica 1, which hands its writes over
// to the leader) and "1 replica′" (the first path again: its spread is the noise floor). At the
// end every copy is checked on every member.
func haBench(ctx context.Context, o options, out io.Writer) error {
	env, gw0, stop, err := withMembers(ctx, "fleetgate-bench-ha-", haMembers, haMembers)
	if err != nil {
		return err
	}
	defer stop()
	url1, err := env.StartGatewayReplica(ctx, 1)
	if err != nil {
		return err
	}
	cfg1 := rest.CopyConfig(env.GatewayConfig)
	cfg1.Host = url1
	gw1, err := clientsFor(cfg1)
	if err != nil {
		return err
	}
	if err := setupNamespace(ctx, gw0, haNamespace, nil); err != nil {
		return err
	}
	var members []*clients
	for _, m := range env.Members {
		mc, err := clientsFor(m.Config)
		if err != nil {
			return err
		}
		members = append(members, mc)
	}
	if err := waitNamespaceOnMembers(ctx, members, haNamespace); err != nil {
		return err
	}
	pids := map[string]int{}
	for _, u := range env.Usage() {
		pids[u.Name] = u.PID
	}
	var seq atomic.Int64
	// turn runs haWriters writers over targets for d and returns creates per second.
	turn := func(targets []*clients, d time.Duration) (float64, error) {
		var n atomic.Int64
		var first error
		var mu sync.Mutex
		began := time.Now()
		var wg sync.WaitGroup
		for w := range haWriters {
			wg.Go(func() {
				c := targets[w%len(targets)]
				for time.Since(began) < d {
					name := fmt.Sprintf("d-%06d", seq.Add(1))
					if _, err := c.kube.AppsV1().Deployments(haNamespace).Create(ctx, newDeployment(name), metav1.CreateOptions{}); err != nil {
						mu.Lock()
						if first == nil {
							first = fmt.Errorf("create %s: %w", name, err)
						}
						mu.Unlock()
						return
					}
					n.Add(1)
				}
			})
		}
		wg.Wait()
		return float64(n.Load()) / time.Since(began).Seconds(), first
	}
	paths := []struct {
		name    string
		targets []*clients
	}{{"1 replica", []*clients{gw0}}, {"2 replicas", []*clients{gw0, gw1}}, {"1 replica′", []*clients{gw0}}}
	// A warm-up turn each (caches, connections), not counted.
	for _, p := range paths {
		if _, err := turn(p.targets, time.Second); err != nil {
			return err
		}
	}
	d := 2 * o.phase
	rates := make([][]float64, len(paths))
	// cpu[i] is the CPU the processes spent in path i's turns, by gateways, host and members;
	// creates[i] how many creates they made.
	cpu := make([][3]time.Duration, len(paths))
	creates := make([]float64, len(paths))
	for r := range o.rounds {
		for i, p := range paths {
			before := cpuTimes(pids)
			began := time.Now()
			rate, err := turn(p.targets, d)
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", r+1, p.name, err)
			}
			creates[i] += rate * time.Since(began).Seconds()
			for name, t := range cpuTimes(pids) {
				dt := t - before[name]
				switch {
				case strings.HasPrefix(name, "gateway"):
					cpu[i][0] += dt
				case strings.HasPrefix(name, "member"):
					cpu[i][2] += dt
				default:
					cpu[i][1] += dt
				}
			}
			rates[i] = append(rates[i], rate)
		}
	}
	total := int(seq.Load())
	start := time.Now()
	if err := waitCopies(ctx, members, haNamespace, total, start); err != nil {
		return err
	}
	fmt.Fprintf(out, "gateway replicas (issue 12): Deployments created through the gateway by %d writers, each on %d members when its create returns; %d rounds × %s per path\n",
		haWriters, haMembers, o.rounds, d)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "path\tcreates/s (median)\tmin\tmax\tvs 1 replica\tCPU per create: gateways\thost\tmembers\tCPU busy\t")
	base := median(rates[0])
	wall := time.Duration(o.rounds) * d
	for i, p := range paths {
		per := func(t time.Duration) string { return fmt.Sprintf("%.1f ms", float64(t.Microseconds())/1000/creates[i]) }
		busy := float64(cpu[i][0]+cpu[i][1]+cpu[i][2]) / float64(wall)
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.1f\t%.2f×\t%s\t%s\t%s\t%.2f cores\t\n", p.name, median(rates[i]), slices.Min(rates[i]), slices.Max(rates[i]), median(rates[i])/base,
			per(cpu[i][0]), per(cpu[i][1]), per(cpu[i][2]), busy)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "all %d Deployments on all %d members %s after the last create; goal: 2 replicas ≥ 1.6× one\n", total, haMembers, time.Since(start).Round(100*time.Millisecond))
	return nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
