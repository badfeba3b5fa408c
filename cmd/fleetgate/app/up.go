package app

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/fleetgate/fleetgate/bootstrap"
	"github.com/fleetgate/fleetgate/localenv"
)

// upOptions are the flags of `fleetgate up`.
type upOptions struct {
	Dir     string
	BinDir  string
	Members int
	NoJoin  bool
}

func newUpCommand() *cobra.Command {
	o := upOptions{Dir: localenv.DefaultDir, Members: 2}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start a local environment: host control plane, gateway and member clusters, on loopback",
		Long: `Starts one etcd, the host control plane, the gateway and --members workload member clusters
(kube-apiserver, kube-controller-manager, kube-scheduler and kwok fake nodes) from the binaries in
--bin-dir, all on loopback with state under --dir. member1 is joined in Push mode unless --no-join.
Stays in the foreground; Ctrl-C stops everything.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Members < 0 {
				return fmt.Errorf("--members %d: must not be negative", o.Members)
			}
			return o.run(cmd.Context(), cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Dir, "dir", o.Dir, "state directory (etcd data, certificates, logs, kubeconfigs)")
	f.StringVar(&o.BinDir, "bin-dir", "", "directory of the real binaries (default: $FLEETGATE_BIN, else ./bin of the repository)")
	f.IntVar(&o.Members, "members", o.Members, "number of workload member clusters")
	f.BoolVar(&o.NoJoin, "no-join", false, "start the members but join none of them")
	return cmd
}

func (o *upOptions) run(ctx context.Context, out io.Writer) error {
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return err
	}
	members := make([]localenv.MemberOptions, o.Members)
	for i := range members {
		members[i] = localenv.MemberOptions{Name: fmt.Sprintf("member%d", i+1), Workload: true}
	}
	env, err := localenv.Start(ctx, localenv.Options{Dir: dir, BinDir: o.BinDir, Members: members, Gateway: true, Out: out})
	if err != nil {
		return fmt.Errorf("start local environment: %w (logs in %s)", err, filepath.Join(dir, "logs"))
	}
	defer func() {
		fmt.Fprintln(out, "Stopping the local environment…")
		if err := env.Stop(); err != nil {
			fmt.Fprintln(out, "stop:", err)
		}
	}()
	self := "fleetgate"
	if len(env.Members) > 0 && !o.NoJoin {
		m := env.Members[0]
		fmt.Fprintf(out, "\nJoining %s in Push mode:\n  %s join %s --kubeconfig %s --cluster-kubeconfig %s\n",
			m.Name, self, m.Name, env.GatewayKubeconfig, m.Kubeconfig)
		if err := bootstrap.Join(ctx, bootstrap.JoinOptions{
			Name: m.Name, Host: env.GatewayConfig, MemberKubeconfig: m.Kubeconfig, Out: out,
		}); err != nil {
			return fmt.Errorf("join %s: %w", m.Name, err)
		}
	}
	printUsage(out, env, o.NoJoin)
	<-ctx.Done()
	return nil
}

func printUsage(out io.Writer, env *localenv.Env, noJoin bool) {
	fmt.Fprintf(out, "\nfleetgate is ready: gateway at %s (state and logs in %s)\n\n", env.GatewayURL, env.Dir)
	fmt.Fprintf(out, "Use the gateway (kubectl and client-go programs work unchanged):\n  export KUBECONFIG=%s\n", env.GatewayKubeconfig)
	for _, m := range env.Members {
		fmt.Fprintf(out, "A member directly:\n  export KUBECONFIG=%s\n", m.Kubeconfig)
	}
	fmt.Fprintf(out, "The host control plane directly:\n  export KUBECONFIG=%s\n\n", env.Host.Kubeconfig)
	for i, m := range env.Members {
		if i == 0 && !noJoin {
			continue
		}
		fmt.Fprintf(out, "Join %s in Push mode:\n  fleetgate join %s --kubeconfig %s --cluster-kubeconfig %s\n",
			m.Name, m.Name, env.GatewayKubeconfig, m.Kubeconfig)
	}
	fmt.Fprintf(out, "\nThen: kubectl get clusters. Pods, nodes and ReplicaSets are merged from every member\n"+
		"(kubectl get pods -o wide shows a CLUSTER column); one member alone: kubectl --server %s/clusters/<name> ….\n"+
		"Ctrl-C stops everything.\n", env.GatewayURL)
}
