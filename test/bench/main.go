// Command bench measures the gateway against the direct path to the host apiserver, on real binaries
// started by localenv, and prints a table (`make bench`).
//
// Each scenario alternates the paths in rounds (A B A' … with A' a second, independent direct client),
// so that machine drift affects them alike; the A/A' ratio is the noise floor to read the gateway's
// ratios against.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/fleetgate/fleetgate/localenv"
)

func main() {
	var o options
	flag.IntVar(&o.rounds, "rounds", 6, "rounds per scenario (each round runs every path once)")
	flag.DurationVar(&o.phase, "phase", 2*time.Second, "duration of one path's turn in a round")
	flag.IntVar(&o.listSize, "list-size", 500, "ConfigMaps in the LIST scenario")
	flag.StringVar(&o.suite, "suite", "all", "which benchmarks: gateway, propagation, overrides, status, memberview, pull, memory, ha, scale or all")
	flag.IntVar(&o.creates, "creates", 20, "Deployment creates per path and round in the propagation benchmark")
	flag.IntVar(&o.templates, "templates", 1000, "templates to reconcile after a gateway restart")
	flag.IntVar(&o.mvPods, "memberview-pods", 1000, "pods per member in the member view benchmark")
	flag.StringVar(&o.mvMembers, "memberview-members", "2,5", "member counts of the member view benchmark, ascending")
	flag.StringVar(&o.mvProfile, "memberview-cpuprofile", "", "write a 10s CPU profile of the gateway under merged LISTs (largest member count) to this file")
	flag.StringVar(&o.gwProfile, "gateway-cpuprofile", "", "write a 10s CPU profile of the gateway under GETs of one ConfigMap by 32 clients to this file")
	flag.StringVar(&o.pullProfile, "pull-cpuprofile", "", "write a 10s CPU profile of the gateway under GETs through a Pull member's tunnel to this file")
	flag.IntVar(&o.memTemplates, "memory-templates", 10000, "templates (Deployments) in the memory benchmark")
	flag.StringVar(&o.memClusters, "memory-clusters", "5,10", "cluster counts of the memory benchmark, ascending (the largest are joined)")
	flag.StringVar(&o.memProfile, "memory-heapprofile", "", "write the gateway's heap profile at the memory benchmark's last reading (most templates and clusters) to this file")
	flag.StringVar(&o.propGatewayArgs, "propagation-gateway-args", "", "extra `fleetgate serve` flags (comma-separated) for the propagation suite's gateway, e.g. --leader-elect=false")
	flag.Parse()
	if err := run(context.Background(), o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type options struct {
	rounds      int
	phase       time.Duration
	listSize    int
	suite       string
	creates     int
	templates   int
	mvPods      int
	mvMembers   string
	mvProfile   string
	pullProfile string
	gwProfile   string
	// memory suite
	memTemplates int
	memClusters  string
	memProfile   string
	// propGatewayArgs: -propagation-gateway-args
	propGatewayArgs string
}

func run(ctx context.Context, o options, out io.Writer) error {
	switch o.suite {
	case "gateway":
		return gatewayBench(ctx, o, out)
	case "propagation":
		return propagationBench(ctx, o, out)
	case "overrides":
		return overridesBench(ctx, o, out)
	case "status":
		return statusBench(ctx, o, out)
	case "memberview":
		return memberviewBench(ctx, o, out)
	case "pull":
		return pullBench(ctx, o, out)
	case "memory":
		return memoryBench(ctx, o, out)
	case "ha":
		return haBench(ctx, o, out)
	case "scale":
		return scaleBench(ctx, o, out)
	case "all":
		for _, b := range []func(context.Context, options, io.Writer) error{gatewayBench, propagationBench, overridesBench, statusBench, memberviewBench, pullBench, memoryBench, haBench, scaleBench} {
			if err := b(ctx, o, out); err != nil {
				return err
			}
			fmt.Fprintln(out)
		}
		return nil
	}
	return fmt.Errorf("-suite %q: want gateway, propagation, overrides, status, memberview, pull, memory, ha, scale or all", o.suite)
}

func gatewayBench(ctx context.Context, o options, out io.Writer) error {
	dir, err := os.MkdirTemp("", "fleetgate-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var gatewayArgs []string
	if o.gwProfile != "" {
		gatewayArgs = []string{"--profiling"}
	}
	env, err := localenv.Start(ctx, localenv.Options{Dir: dir, Gateway: true, GatewayArgs: gatewayArgs, Out: os.Stderr})
	if err != nil {
		localenv.TailLogs(os.Stderr, dir, 40)
		return err
	}
	defer env.Stop()
	fmt.Fprintf(out, "fleetgate bench: %d rounds × %s per path and scenario; host and gateway on loopback\n\n", o.rounds, o.phase)
	if err := gatewayVsDirect(ctx, env, o, out); err != nil {
		return err
	}
	if o.gwProfile == "" {
		return nil
	}
	return profileGET(ctx, env, o.gwProfile, out)
}
