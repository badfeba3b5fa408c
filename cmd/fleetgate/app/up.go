package app

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"

	"github.com/spf13/cobra"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/fleetgate/fleetgate/apis/client"
	"github.com/fleetgate/fleetgate/bootstrap"
	"github.com/fleetgate/fleetgate/bootstrap/token"
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
--bin-dir, all on loopback with state under --dir. Unless --no-join, member1 is joined in Push mode
and member2 registered in Pull mode (a bootstrap token, register, and its agent run by this process).
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
	if len(env.Members) > 1 && !o.NoJoin {
		if err := registerPull(ctx, out, self, env, env.Members[1], filepath.Join(dir, "agents", env.Members[1].Name)); err != nil {
			return err
		}
	}
	printUsage(out, env, o.NoJoin)
	<-ctx.Done()
	return nil
}

// registerPull registers m in Pull mode as a user would (a token, register with the CA pin) and
// runs its agent in this process until ctx ends; it returns once the gateway sees m Ready.
func registerPull(ctx context.Context, out io.Writer, self string, env *localenv.Env, m *localenv.Cluster, agentDir string) error {
	kube, err := kubernetes.NewForConfig(env.GatewayConfig)
	if err != nil {
		return err
	}
	t, err := token.Create(ctx, kube, token.CreateOptions{Description: "fleetgate up: " + m.Name}, time.Now())
	if err != nil {
		return err
	}
	register, err := registerCommand(self, env.GatewayConfig)
	if err != nil {
		return err
	}
	register = strings.Replace(register, "{token}", t.String(), 1)
	gateway := strings.TrimPrefix(env.GatewayURL, "https://")
	fmt.Fprintf(out, "\nRegistering %s in Pull mode:\n  %s token create --kubeconfig %s --print-register-command\n  %s --cluster-name %s --dir %s\n  %s agent %s --dir %s --kubeconfig %s\n",
		m.Name, self, env.GatewayKubeconfig, register, m.Name, agentDir, self, gateway, agentDir, m.Kubeconfig)
	_, pin, err := gatewayPin(env.GatewayConfig)
	if err != nil {
		return err
	}
	if err := bootstrap.Register(ctx, bootstrap.RegisterOptions{
		Gateway: gateway, Token: t.String(), CAHash: pin, Cluster: m.Name, Dir: agentDir, Out: out,
	}); err != nil {
		return fmt.Errorf("register %s: %w", m.Name, err)
	}
	go func() {
		if err := bootstrap.RunAgent(ctx, bootstrap.AgentOptions{Gateway: gateway, Dir: agentDir, Member: m.Config}); err != nil {
			fmt.Fprintf(out, "agent of %s: %v\n", m.Name, err)
		}
	}()
	clusters := client.Clusters(dynamic.NewForConfigOrDie(env.GatewayConfig))
	wait, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		if c, err := clusters.Get(wait, "", m.Name); err == nil && clusterv1alpha1.IsReady(c) {
			fmt.Fprintf(out, "cluster(%s) is joined successfully\n", m.Name)
			return nil
		}
		select {
		case <-wait.Done():
			return fmt.Errorf("%s registered, but the gateway does not see it Ready through its tunnel (agent logs above)", m.Name)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func printUsage(out io.Writer, env *localenv.Env, noJoin bool) {
	fmt.Fprintf(out, "\nfleetgate is ready: gateway at %s (state and logs in %s)\n\n", env.GatewayURL, env.Dir)
	fmt.Fprintf(out, "Use the gateway (kubectl and client-go programs work unchanged):\n  export KUBECONFIG=%s\n", env.GatewayKubeconfig)
	for _, m := range env.Members {
		fmt.Fprintf(out, "A member directly:\n  export KUBECONFIG=%s\n", m.Kubeconfig)
	}
	fmt.Fprintf(out, "The host control plane directly:\n  export KUBECONFIG=%s\n\n", env.Host.Kubeconfig)
	for i, m := range env.Members {
		if i <= 1 && !noJoin {
			continue // joined (member1, Push) or registered (member2, Pull) above
		}
		fmt.Fprintf(out, "Join %s in Push mode:\n  fleetgate join %s --kubeconfig %s --cluster-kubeconfig %s\n",
			m.Name, m.Name, env.GatewayKubeconfig, m.Kubeconfig)
	}
	fmt.Fprintf(out, "\nThen: kubectl get clusters. Pods, nodes and ReplicaSets are merged from every member\n"+
		"(kubectl get pods -o wide shows a CLUSTER column); one member alone: kubectl --server %s/clusters/<name> ….\n"+
		"Ctrl-C stops everything.\n", env.GatewayURL)
}
